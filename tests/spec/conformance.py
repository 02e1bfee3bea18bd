"""Check requests and answers against the published OOS operations in `oos_operations.json`.

The data file is the one place that says what the published API looks like; this module only
reads it. Each check returns a list of problems (empty when the request or answer conforms), each
naming where it is (`body.tags[0]`) and what the spec says, so a failing test explains itself.

Requests are checked strictly: every name must be published, required fields present, types
right, page sizes within limits. Answers are read the way the spec asks a client to read them
(unknown fields allowed), or strictly (`strict=True`, for the emulator: only published fields,
and the fields the seed page always shows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("oos_operations.json")
FINAL_EXECUTION_STATES = frozenset({"SUCCESS", "FAILED", "CANCELED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"})
FINISHED_TASK_STATES = frozenset({"SUCCESS", "FAILED"})
_LIST = re.compile(r"^list<(.+)>$")


@cache
def spec() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@dataclass(frozen=True)
class Operation:
    """One published operation, a view on its entry of the data file."""

    raw: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def method(self) -> str:
        return str(self.raw["method"])

    @property
    def path(self) -> str:
        return str(self.raw["path"])

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(self.raw["styles"])

    def full_paths(self) -> dict[str, str]:
        """The published full path per style: {"seed": "/api/logic/oos/v2/...", "openapi": "/v2/..."}."""
        bases = spec()["base_paths"]
        return {style: bases[style] + self.path for style in self.styles}

    @property
    def query(self) -> Mapping[str, Any]:
        return {**spec()["common_query"], **self.raw.get("query", {})}

    @property
    def result(self) -> str | None:
        return self.raw.get("result")

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} ({self.name})>"


def operations() -> list[Operation]:
    return [Operation(entry) for entry in spec()["operations"]]


def operation(name: str) -> Operation:
    for op in operations():
        if op.name == name:
            return op
    raise KeyError(f"no published operation named {name!r}")


def find(method: str, path: str) -> Operation | None:
    """The operation for a method and a path after the base path."""
    return next((op for op in operations() if op.method == method and op.path == path), None)


def split_base(path: str, base_path: str) -> str | None:
    """The path after `base_path`, or None when the request did not go under it."""
    base = base_path.rstrip("/")
    if base and not (path == base or path.startswith(base + "/")):
        return None
    return path[len(base) :] or "/"


# -- values -------------------------------------------------------------------------------------


def _model(name: str) -> Mapping[str, Any]:
    return spec()["models"][name]


def _kind_ok(kind: str, value: Any) -> bool:
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "map": lambda v: isinstance(v, dict),
        "list": lambda v: isinstance(v, list),
        "any": lambda v: True,
        "bool_text": lambda v: v in ("true", "false"),
    }
    return checks[kind](value)


def check_value(kind: str, value: Any, where: str, *, request: bool, strict: bool = False) -> list[str]:
    """Problems of one value against a type of the data file (a kind, list<T> or a model name)."""
    if value is None:
        # A client omits what it does not send; an answer may carry null for "not set".
        return [f"{where} is null: omit the field instead"] if request else []
    if item := _LIST.match(kind):
        if not isinstance(value, list):
            return [f"{where} must be a list ({kind}), got {type(value).__name__}"]
        problems: list[str] = []
        for index, element in enumerate(value):
            at = f"{where}[{index}]"
            problems += check_value(item.group(1), element, at, request=request, strict=strict)
        return problems
    if kind[:1].isupper():
        return check_object(kind, value, where, request=request, strict=strict)
    if not _kind_ok(kind, value):
        return [f"{where} must be {kind}, got {type(value).__name__} {value!r:.60}"]
    return []


def check_object(
    model: str | Mapping[str, Any],
    value: Any,
    where: str,
    *,
    request: bool,
    strict: bool = False,
    exclude: tuple[str, ...] = (),
) -> list[str]:
    """Problems of a JSON object against a model (a name in `models`, or an inline `fields` spec)."""
    spec_ = _model(model) if isinstance(model, str) else model
    label = model if isinstance(model, str) else "object"
    if not isinstance(value, dict):
        return [f"{where} must be a JSON object ({label}), got {type(value).__name__}"]
    fields: Mapping[str, str] = spec_["fields"]
    allowed = set(fields) - set(exclude)
    if request:
        allowed -= set(spec_.get("response_only", ()))
    problems: list[str] = []
    unknown = sorted(set(value) - allowed)
    if unknown and (request or strict):
        problems.append(f"{where} has fields the spec does not name for {label}: {unknown}")
    required = spec_.get("request_required" if request else "required", spec_.get("required", ()))
    problems += [f"{where}.{name} is required ({label})" for name in required if value.get(name) is None]
    for name, kind in fields.items():
        if name in value:
            problems += check_value(kind, value[name], f"{where}.{name}", request=request, strict=strict)
    for name, choices in spec_.get("values", {}).items():
        if isinstance(value.get(name), str) and value[name] not in choices:
            problems.append(f"{where}.{name} is {value[name]!r}; the spec names {choices}")
    return problems


# -- requests -----------------------------------------------------------------------------------


def _page_problems(body: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, limit in spec()["page_limits"].items():
        number = body.get(name)
        if isinstance(number, int) and not isinstance(number, bool):
            if number < limit.get("min", number):
                problems.append(f"body.{name} is {number}; the spec's minimum is {limit['min']}")
            if number > limit.get("max", number):
                problems.append(f"body.{name} is {number}; the spec's maximum is {limit['max']}")
    return problems


def _conditional(rules: list[Mapping[str, Any]], body: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    for rule in rules:
        actual = body.get(rule["field"], rule.get("missing_means"))
        if actual == rule["equals"]:
            problems += [
                f"{where}.{name} is required when {rule['field']} is {json.dumps(rule['equals'])}"
                for name in rule["then"]
                if not body.get(name)
            ]
    return problems


def _template_rule(template: Any) -> list[str]:
    """create_execution: `template.ref` (with its name, as the seed sends) or an inline name + operators."""
    if not isinstance(template, dict):
        return []
    if template.get("ref"):
        return [] if template.get("name") else ["body.template.name must be sent with template.ref"]
    problems = [f"body.template.{name} is required for an inline template" for name in ("name", "operators")
                if not template.get(name)]  # fmt: skip
    rule = [{"field": "linear", "equals": False, "missing_means": False, "then": ["links"]}]
    return problems + _conditional(rule, template, "body.template")


def check_request(
    method: str, path: str, query: Mapping[str, str], body: Any, *, base_path: str
) -> list[str]:
    """Problems of one recorded request (full path, decoded query, parsed JSON body or None)."""
    after = split_base(path, base_path)
    if after is None:
        return [f"{method} {path} is not under the configured base path {base_path!r}"]
    op = find(method, after)
    if op is None:
        return [f"{method} {after} (after base path {base_path!r}) is not a published operation"]
    problems: list[str] = []
    published = op.query
    unknown = sorted(set(query) - set(published))
    if unknown:
        problems.append(f"{op.name}: query parameters the spec does not name: {unknown}")
    for name, param in published.items():
        if param.get("required") and not query.get(name):
            problems.append(f"{op.name}: query parameter {name!r} is required")
        if name in query and "values" in param and query[name] not in param["values"]:
            problems.append(f"{op.name}: query {name}={query[name]!r}; the spec names {param['values']}")
    one_of = op.raw.get("query_one_of")
    if one_of and not any(all(query.get(name) for name in group) for group in one_of):
        problems.append(f"{op.name}: query needs one of {one_of}")
    body_spec = op.raw.get("body")
    if body_spec is None:
        if body not in (None, b"", ""):
            problems.append(f"{op.name}: the spec publishes no body, the request sent {body!r:.80}")
        return problems
    model: str | Mapping[str, Any] = body_spec.get("model", body_spec)
    exclude = tuple(body_spec.get("exclude", ()))
    problems += [f"{op.name}: {p}" for p in check_object(model, body, "body", request=True, exclude=exclude)]
    if not isinstance(body, dict):
        return problems
    problems += [f"{op.name}: body.{name} is required" for name in op.raw.get("required", ())
                 if body.get(name) is None]  # fmt: skip
    problems += [f"{op.name}: {p}" for p in _conditional(op.raw.get("required_when", []), body, "body")]
    if op.raw.get("template_rule") == "ref_or_inline":
        problems += [f"{op.name}: {p}" for p in _template_rule(body.get("template"))]
    if op.raw.get("paged"):
        problems += [f"{op.name}: {p}" for p in _page_problems(body)]
    return problems


# -- answers ------------------------------------------------------------------------------------


def check_envelope(answer: Any) -> list[str]:
    envelope = spec()["envelope"]
    problems = check_object(envelope, answer, "answer", request=False, strict=True)
    if isinstance(answer, dict) and answer.get("success") is True and answer.get("code") != 200:
        problems.append(f"answer.code is {answer.get('code')!r}; a success carries code 200")
    return problems


def check_result(op: Operation | str, result: Any, *, strict: bool = False) -> list[str]:
    """Problems of an answer's `result` for an operation (types always; unknown fields when strict)."""
    op = operation(op) if isinstance(op, str) else op
    if op.result is None:
        return []
    if result is None and op.raw.get("result_optional"):
        return []
    problems = check_value(op.result, result, "result", request=False, strict=strict)
    if result is None:
        problems.append(f"{op.name}: the answer has no result; the spec publishes {op.result}")
    if strict:
        problems += seed_field_problems(op.result, result, "result")
    return problems


def _objects(kind: str, value: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (model name, location, object) reachable from a value of the given type."""
    if item := _LIST.match(kind):
        for index, element in enumerate(value if isinstance(value, list) else ()):
            yield from _objects(item.group(1), element, f"{where}[{index}]")
    elif kind[:1].isupper() and isinstance(value, dict):
        yield kind, where, value
        for name, sub in _model(kind)["fields"].items():
            if name in value:
                yield from _objects(sub, value[name], f"{where}.{name}")


def seed_field_problems(kind: str, value: Any, where: str) -> list[str]:
    """The fields the seed page's example always shows (and `finishedTimestamp` once final)."""
    problems = []
    for model, location, obj in _objects(kind, value, where):
        spec_ = _model(model)
        wanted = list(spec_.get("seed_fields", ()))
        final = FINAL_EXECUTION_STATES if model == "Execution" else FINISHED_TASK_STATES
        if obj.get("state") in final:
            wanted += spec_.get("final_fields", ())
        missing = [name for name in wanted if name not in obj]
        if missing:
            problems.append(f"{location} ({model}) lacks fields the seed example always shows: {missing}")
    return problems


def tasks_of(execution: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every task of an execution with its location, children included."""
    for _model_name, location, obj in _objects("Execution", execution, "result"):
        if _model_name == "Task":
            yield location, obj


def log_problems(execution: Mapping[str, Any], *, with_log: bool) -> list[str]:
    """withLog semantics: no `log` key anywhere unless asked; with it, a `log` list on every task."""
    problems = []
    for location, task in tasks_of(execution):
        if with_log and not isinstance(task.get("log"), list):
            problems.append(f"{location} has no log list although withLog=true was asked")
        if not with_log and "log" in task:
            problems.append(f"{location} carries `log` although withLog was not asked")
    return problems
