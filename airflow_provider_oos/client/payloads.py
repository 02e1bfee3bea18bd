"""The JSON bodies and query values the published OOS operations send, checked as they are built.

Pure: no I/O. Bad input raises ValueError or TypeError naming the field, before any request.
Writes follow oos-api.md exactly: execution tags go as ``tagKey``/``tagValue``, template tags as
``key``/``value``, and only the published fields are sent. `airflow_provider_oos.client.operations`
builds each call from these pieces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from airflow_provider_oos.client.models import Tag, Template
from airflow_provider_oos.client.template_rules import prepare_inline_template

TagsArg = Sequence[Tag | Mapping[str, Any]] | Mapping[str, Any] | None

MAX_PAGE_SIZE = 100
TEMPLATE_TYPES = ("INDIVIDUAL", "GLOBAL")
DEFAULT_TEMPLATE_TYPE = TEMPLATE_TYPES[0]
EXECUTION_SORTS = ("startTime", "endTime")
# The states the published list filter names (PAUSED and the rollback states are not among them).
EXECUTION_FILTER_STATES = ("RUNNING", "SUCCESS", "FAILED", "CANCELED", "PENDING")
API_VERSIONS = ("v1", "v2")


def require_text(value: Any, name: str, hint: str) -> str:
    """A non-empty string, stripped.

    :param value: what the caller passed.
    :param name: the parameter's name, for the message.
    :param hint: what a good value looks like, e.g. ``an id such as 'd-…'``.
    :return: ``value`` without surrounding whitespace.
    :raises ValueError: ``value`` is not a string or is blank.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string ({hint}), got {value!r}")
    return value.strip()


def choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of the published values.

    :param value: what the caller passed.
    :param name: the parameter's name, for the message.
    :param choices: the values the API accepts.
    :return: ``value``.
    :raises ValueError: ``value`` is not one of ``choices``.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def strict_bool(value: Any, name: str) -> bool:
    """A real ``True`` or ``False`` (no truthy strings: ``"false"`` would read as True).

    :param value: what the caller passed.
    :param name: the parameter's name, for the message.
    :return: ``value``.
    :raises ValueError: ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def epoch_ms(value: int | datetime, name: str) -> int:
    """A time as the API takes it: epoch milliseconds.

    :param value: epoch milliseconds, or a timezone-aware ``datetime``.
    :param name: the parameter's name, for the message.
    :return: epoch milliseconds.
    :raises ValueError: a naive ``datetime``, a negative number or anything else.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: a datetime must be timezone-aware")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be epoch milliseconds (an integer >= 0) or an aware datetime")
    return value


def execution_options(parallelism: object, manually: object) -> dict[str, Any]:
    """The published create options, only those given (the one check of both, shared by the
    operator at parse time and the hook before a create).

    :param parallelism: how many loop iterations OOS runs at once: an integer >= 1, or None.
    :param manually: whether the execution waits for a person to start each step: a bool, or None.
    :return: the body fields to send, e.g. ``{"parallelism": 2}``.
    :raises ValueError: ``parallelism`` is not an integer >= 1.
    :raises TypeError: ``manually`` is not a bool.
    """
    options: dict[str, Any] = {}
    if parallelism is not None:
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(
                f"parallelism must be a whole number of at least 1, or None; got {parallelism!r}."
            )
        options["parallelism"] = parallelism
    if manually is not None:
        if not isinstance(manually, bool):
            raise TypeError(f"manually must be True, False or None, got {type(manually).__name__}.")
        options["manually"] = manually
    return options


def as_template(template: Template | Mapping[str, Any], name: str = "template") -> Template:
    """A `Template` from a `Template` or its API shape (a dict).

    :param template: the template.
    :param name: the parameter's name, for the message.
    :return: the parsed template.
    :raises ValueError: the dict is not a valid OOS template.
    :raises TypeError: ``template`` is neither a `Template` nor a dict.
    """
    if isinstance(template, Template):
        return template
    if isinstance(template, Mapping):
        try:
            return Template.model_validate(dict(template))
        except ValidationError as exc:
            raise ValueError(f"{name} is not a valid OOS template: {exc}") from None
    raise TypeError(f"{name} must be a Template or a dict, got {type(template).__name__}")


def template_payload(template: Template | Mapping[str, Any], *, inline_required: bool) -> dict[str, Any]:
    """The JSON to send for a template, its tags as ``key``/``value``.

    :param template: the template, a `Template` or a dict.
    :param inline_required: True for a template to store or run: checked and completed by
        `prepare_inline_template` first. False for check-template, which gets it as given (that is the check).
    :return: the template's JSON object.
    :raises ValueError: the template breaks a rule of `template_rules` (when ``inline_required``).
    :raises TypeError: ``template`` is neither a `Template` nor a dict.
    """
    parsed = as_template(template)
    body = (prepare_inline_template(parsed) if inline_required else parsed).to_api()
    if parsed.tags is not None:
        body["tags"] = [tag.to_template_tag() for tag in parsed.tags]
    return body


def read_tags(tags: TagsArg) -> list[Tag]:
    """Tags from a dict (key -> value) or a list of tags in either published shape.

    :param tags: a dict, a list of `Tag` or of dicts (``tagKey``/``tagValue`` or ``key``/``value``), or None.
    :return: the tags, empty for None.
    :raises TypeError: ``tags`` is neither a dict nor a list.
    :raises ValueError: an item of the list is not a tag.
    """
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        items: list[Any] = [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    elif isinstance(tags, list | tuple):
        items = list(tags)
    else:
        raise TypeError(f"tags must be a dict of key -> value or a list of tags, got {type(tags).__name__}")
    result = []
    for item in items:
        try:
            result.append(item if isinstance(item, Tag) else Tag.model_validate(item))
        except ValidationError:
            raise ValueError(
                f"tags: {item!r} is not a tag; use {{'tagKey': ..., 'tagValue': ...}} or a dict key -> value"
            ) from None
    return result


def tags_payload(tags: TagsArg) -> list[dict[str, Any]]:
    """Execution tags as published: ``[{"tagKey": ..., "tagValue": ...}]``.

    :param tags: as for `read_tags`.
    :return: the list to send.
    :raises TypeError: see `read_tags`.
    :raises ValueError: see `read_tags`.
    """
    return [tag.to_execution_tag() for tag in read_tags(tags)]


def page_body(page_no: int, page_size: int) -> dict[str, Any]:
    """The paging fields of a list call.

    :param page_no: the page, from 1.
    :param page_size: items per page, from 1 to ``MAX_PAGE_SIZE``.
    :return: ``{"pageNo": ..., "pageSize": ...}``.
    :raises ValueError: either is not an integer in range.
    """
    if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 1:
        raise ValueError(f"page_no must be an integer >= 1, got {page_no!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return {"pageNo": page_no, "pageSize": page_size}


def sorted_page_body(page_no: int, page_size: int, sort: str, ascending: bool) -> dict[str, Any]:
    """The paging and sort fields of the template and action-type lists.

    :param page_no: the page, from 1.
    :param page_size: items per page, from 1 to ``MAX_PAGE_SIZE``.
    :param sort: the field to sort by, e.g. ``createTime``.
    :param ascending: sort order.
    :return: the fields to send.
    :raises ValueError: see `page_body`.
    """
    return {**page_body(page_no, page_size), "sort": sort, "ascending": bool(ascending)}


def json_bytes(body: Any) -> bytes:
    """The compact UTF-8 JSON of a body, as both hooks send it.

    :param body: JSON values.
    :return: the encoded body.
    :raises TypeError: ``body`` holds something that is not a JSON value.
    """
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
