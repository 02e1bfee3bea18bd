"""The client's rules for an inline OOS template, checked before any API call.

One place for them: `prepare_inline_template` checks a template and completes it for the API; the
operators, the preflight and the hook's request bodies all use it, so a bad template fails with a
message naming the field and nothing is created. (The emulator keeps its own, separate copy of the
service's rules in `emulator.templates`, on purpose: it checks the client, not the reverse.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from airflow_provider_oos.client.models import Template, TemplateOperator

# Explicit step settings: OOS sources disagree on their defaults, so we always send them.
DEFAULT_STEP_RETRIES = 0
DEFAULT_STEP_RETRY_INTERVAL_MS = 60_000
DEFAULT_STEP_TIMEOUT_MS = 3_600_000
NON_NEGATIVE_STEP_FIELDS = ("retries", "retry_interval", "timeout", "schedule_delay_milli")


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle in a step graph (`{step: [next steps]}`) as a path that ends where it starts, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in edges.get(node, ()):
            if cycle := visit(nxt):
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in edges:
        if cycle := visit(start):
            return cycle
    return None


def prepare_inline_template(value: object, field: str = "template") -> Template:
    """An inline template (Template, dict or JSON text) checked and completed for the API; the input
    is not changed.

    Rules: a name; at least one step; unique step names; each step names its action; retries,
    retryInterval and timeout always explicit (defaults filled in) and never negative; `linear`
    explicit; when not linear, links are required, name known steps and form no cycle.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{field} is not valid JSON ({err}); pass a dict, a Template or JSON text."
            ) from None
    if isinstance(value, Template):
        template = value.model_copy(deep=True)
    elif isinstance(value, dict):
        try:
            template = Template.model_validate(value)
        except ValidationError as err:
            raise ValueError(f"{field} does not match the OOS template shape: {err}") from None
    else:
        raise TypeError(f"{field} must be a Template, a dict or JSON text, got {type(value).__name__}.")

    if not template.name or not template.name.strip():
        raise ValueError(f"{field}.name is required: OOS templates are identified by a unique name.")
    if not template.operators:
        raise ValueError(f"{field}.operators must list at least one step (e.g. BCE::BCC::StopInstance).")
    names: list[str] = []
    steps: list[TemplateOperator] = []
    for index, step in enumerate(template.operators):
        where = f"{field}.operators[{index}]"
        if not step.name or not step.name.strip():
            raise ValueError(f"{where}.name is required: every step needs a unique name.")
        if step.name in names:
            raise ValueError(f"{where}.name {step.name!r} is used twice; step names must be unique.")
        if not step.operator:
            raise ValueError(f"{where}.operator (the action type, e.g. BCE::BCC::StopInstance) is required.")
        step = step.model_copy(deep=True)
        if step.retries is None:
            step.retries = DEFAULT_STEP_RETRIES
        if step.retry_interval is None:
            step.retry_interval = DEFAULT_STEP_RETRY_INTERVAL_MS
        if step.timeout is None:
            step.timeout = DEFAULT_STEP_TIMEOUT_MS
        for attr in NON_NEGATIVE_STEP_FIELDS:
            number = getattr(step, attr)
            if number is not None and number < 0:
                alias = TemplateOperator.model_fields[attr].alias or attr
                raise ValueError(f"{where}.{alias} must not be negative, got {number}.")
        names.append(step.name)
        steps.append(step)
    template.operators = steps

    links = [(link.src, link.dst) for link in template.links or ()]
    if template.linear is None:
        template.linear = not links
    if not template.linear:
        if not links:
            raise ValueError(
                f"{field}.links are required when linear is false: list {{src, dst}} step pairs."
            )
        for index, (src, dst) in enumerate(links):
            for end, name in (("src", src), ("dst", dst)):
                if name not in names:
                    raise ValueError(
                        f"{field}.links[{index}].{end} {name!r} is not a step name; known: {names}."
                    )
        graph: dict[str, list[str]] = {name: [] for name in names}
        for src, dst in links:
            graph[src].append(dst)
        if cycle := find_cycle(graph):
            raise ValueError(f"{field}.links form a cycle ({' -> '.join(cycle)}); OOS runs an acyclic graph.")
    return template
