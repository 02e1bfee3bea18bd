"""What an answer looked like, without its values: its shape, and what the tolerant reader kept raw.

`shape_of` gives the JSON skeleton of a `result` (keys and value types; the items of a list merged
into one shape), so a report shows the service's shapes without showing anyone's data.
`kept_raw` walks a parsed model and lists each field the tolerant reader (`client.model_base`)
kept as an extra: a field the models do not know (``unknown``), or a known one whose value did not
fit its type (``unreadable``), by path (``executions[].tasks[].someField``) with its count.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import AliasChoices, BaseModel

_TYPE_NAMES = {str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}


def _merge(left: Any, right: Any) -> Any:
    if left == right:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, shape in right.items():
            merged[key] = _merge(merged[key], shape) if key in merged else shape
        return merged
    if isinstance(left, list) and isinstance(right, list):
        return [_merge(left[0], right[0])] if left and right else left or right
    options = [*(left["oneOf"] if isinstance(left, dict) and "oneOf" in left else [left])]
    for shape in right["oneOf"] if isinstance(right, dict) and "oneOf" in right else [right]:
        if shape not in options:
            options.append(shape)
    return {"oneOf": options}


def shape_of(value: Any) -> Any:
    """The skeleton of a JSON value: objects keep their keys, a list one merged item shape, and
    every scalar becomes its type name (``string``, ``number``, ``boolean``, ``null``)."""
    if isinstance(value, dict):
        return {str(key): shape_of(item) for key, item in value.items()}
    if isinstance(value, list):
        shape: list[Any] = []
        for item in value:
            shape = [_merge(shape[0], shape_of(item))] if shape else [shape_of(item)]
        return shape
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _sent_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.update(n for n in (name, info.alias) if n)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
    return names


def _walk(node: Any, path: str, found: Counter[tuple[str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, f"{path}[]", found)
        return
    if not isinstance(node, BaseModel):
        return
    known = _sent_names(type(node))
    for key in node.__pydantic_extra__ or {}:
        found[(f"{path}.{key}" if path else key, "unreadable" if key in known else "unknown")] += 1
    for name, info in type(node).model_fields.items():
        _walk(getattr(node, name), f"{path}.{info.alias or name}" if path else info.alias or name, found)


def kept_raw(model: Any) -> list[dict[str, Any]]:
    """Each field of `model` (and the models inside it) that the reader kept raw, by path:
    ``{"path", "kind": "unknown" | "unreadable", "count"}``."""
    found: Counter[tuple[str, str]] = Counter()
    _walk(model, "", found)
    return [{"path": path, "kind": kind, "count": count} for (path, kind), count in sorted(found.items())]


def value_pattern(value: Any) -> str:
    """A value's form without its content: each digit becomes 9 (``2026-01-02T03:04:05Z`` ->
    ``9999-99-99T99:99:99Z``); for the log timestamp format, which is not published."""
    if not isinstance(value, str):
        return _TYPE_NAMES.get(type(value), type(value).__name__)
    return re.sub(r"\d", "9", value)[:40]
