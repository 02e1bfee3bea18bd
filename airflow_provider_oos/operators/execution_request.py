"""The input of OosCreateExecutionOperator, checked before any API call.

Every mistake raises ValueError/TypeError naming the field and the fix, so a bad value never
creates an execution. Settings that are not templated are checked again at DAG parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_provider_oos.client.models import Template
from airflow_provider_oos.client.template_rules import prepare_inline_template
from airflow_provider_oos.rules.waiting import validate_on_paused, validate_poll_interval


def json_object(value: object, field: str) -> dict[str, Any]:
    """A dict of JSON values, from a dict or JSON text (a rendered template)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"{field} is not valid JSON ({err}); pass a dict.") from None
    if not isinstance(value, dict):
        raise TypeError(f"{field} must be a JSON object (dict), got {type(value).__name__}.")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{field} must hold only JSON values (str, number, bool, list, dict): {err}"
        ) from None
    return value


def check_wait_settings(poll_interval: object, timeout: object, on_paused: object) -> None:
    validate_poll_interval(poll_interval)
    validate_on_paused(on_paused)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ValueError(
            f"timeout must be a number of seconds greater than 0, or None to wait forever; got {timeout!r}."
        )


def check_template_source(template_ref: object, template_name: object, template: object) -> None:
    given = [name for name, value in (("template_ref", template_ref), ("template_name", template_name),
                                      ("template", template)) if value is not None]  # fmt: skip
    if len(given) != 1:
        raise ValueError(
            "Pass exactly one of template_ref (a tpl-… id), template_name (an existing template) or "
            f"template (inline); got {', '.join(given) if given else 'none'}."
        )


@dataclass(frozen=True)
class ExecutionRequest:
    """Validated, rendered input of OosCreateExecutionOperator.

    :param template: the inline template, checked and completed; None when run by ref or name.
    :param template_ref: the id (``tpl-…``) of an existing template, or None.
    :param template_name: the name of an existing template, or None.
    :param properties: the execution's properties (template parameters).
    :param description: the execution's description.
    :param tags: the user's execution tags (the Airflow ones are added on create).
    """

    template: Template | None
    template_ref: str | None
    template_name: str | None
    properties: dict[str, Any]
    description: str | None
    tags: dict[str, str]


def validate_execution_request(
    *,
    template_ref: object,
    template_name: object,
    template: object,
    properties: object,
    description: object,
    tags: object,
    poll_interval: object,
    timeout: object,
    on_paused: object,
) -> ExecutionRequest:
    """All local checks of OosCreateExecutionOperator; ValueError/TypeError naming the field and the fix."""
    check_template_source(template_ref, template_name, template)
    check_wait_settings(poll_interval, timeout, on_paused)
    for field, text in (("template_ref", template_ref), ("template_name", template_name)):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError(f"{field} must be a non-empty string, got {text!r}.")
    if isinstance(template_ref, str) and not template_ref.startswith("tpl-"):
        raise ValueError(
            f"template_ref must be a template id starting with 'tpl-', got {template_ref!r}; "
            "to run a template by its name use template_name."
        )
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}.")
    tag_map = json_object(tags if tags is not None else {}, "tags")
    for key, value in tag_map.items():
        if not key or not isinstance(value, str):
            raise TypeError(f"tags must map non-empty names to string values; fix tag {key!r}: {value!r}.")
    return ExecutionRequest(
        template=prepare_inline_template(template) if template is not None else None,
        template_ref=template_ref.strip() if isinstance(template_ref, str) else None,
        template_name=template_name.strip() if isinstance(template_name, str) else None,
        properties=json_object(properties if properties is not None else {}, "properties"),
        description=description,
        tags=dict(tag_map),
    )
