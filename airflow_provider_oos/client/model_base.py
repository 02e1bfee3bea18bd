"""The tolerant reader under every OOS model (`OosModel`), and `read_answer` to read an answer with it.

Reading is strict only on the fields a model lists in `_DECIDED` (what the provider decides on).
Any other field that does not fit its type is read as None and its raw JSON is kept as an extra
field under the name it was sent with, so `to_api()` still gives it back: a field the provider
does not need never makes an answer unreadable. Unknown fields are kept too.

An answer that fits the models costs one plain pydantic validation; only an answer that does not
fit is read again without the fields that failed.
"""

from __future__ import annotations

import copy
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from typing_extensions import Self

M = TypeVar("M", bound="OosModel")
# Bounds the re-reads of one answer (each drops at least one field that did not fit).
_MAX_REREADS = 50


class OosModel(BaseModel):
    """Base of every OOS model: camelCase aliases, unknown fields kept, tolerant of what it does not need.

    Models of answers read tolerantly (`model_validate`). A model a user writes (a template, a tag)
    sets `_STRICT = True`: its own `model_validate` is strict, but inside an answer it is read
    tolerantly like the rest.
    """

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")

    _DECIDED: ClassVar[frozenset[str]] = frozenset()  # field names that must read as typed
    _STRICT: ClassVar[bool] = False

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:  # type: ignore[override]
        if cls._STRICT or kwargs:
            return super().model_validate(obj, **kwargs)
        return read_answer(cls, obj)

    def to_api(self) -> dict[str, Any]:
        """JSON-ready dict by alias, without fields that were never set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def read_answer(model: type[M], data: Any) -> M:
    """Validate an answer of the service, tolerantly (see the module docstring)."""
    plain = super(OosModel, model).model_validate  # pydantic's own, without the override above
    try:
        return plain(data)
    except ValidationError as first:
        error = first
    if not isinstance(data, Mapping):
        raise error
    data = copy.deepcopy(dict(data))
    unread: list[tuple[tuple[Any, ...], Any]] = []
    for _ in range(_MAX_REREADS):
        this_round: list[tuple[Any, ...]] = []
        for err in error.errors(include_url=False):
            loc = tuple(err["loc"])
            if any(loc[: len(path)] == path for path in this_round):
                continue  # another error of a field already dropped (union members, list items)
            dropped = _drop(model, data, loc)
            if dropped is None:
                raise error  # a field the provider decides on did not fit
            this_round.append(dropped[0][: len(loc)])
            unread.append(dropped)
        try:
            parsed = plain(data)
        except ValidationError as again:
            error = again
            continue
        for path, raw in unread:
            _keep_raw(parsed, path, raw)
        return parsed
    raise error


def _drop(model: type[OosModel], data: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any] | None:
    """Remove from `data` the value of the innermost non-decided field on the path of one error,
    returning (its path, its raw value); None when only decided fields lie on the path."""
    # (path length, model holding the field) of each field on the path the provider does not decide on
    candidates: list[tuple[int, type[OosModel]]] = []
    current: type[OosModel] | None = model
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            continue  # a list index between a field and the model of its items
        if current is None:
            break
        field = _fields(current).get(part)
        if field is None:
            break
        name, inner = field
        if name not in current._DECIDED:
            candidates.append((depth + 1, current))
        current = inner
    for length, holder in reversed(candidates):
        parent = _at(data, tuple(loc[: length - 1]))
        if not isinstance(parent, dict):
            continue
        key = loc[length - 1]
        # A field read under several names is reported under one: drop whichever the answer holds.
        target = _fields(holder)[key][0]
        for name in [key, *(sent for sent, (ours, _) in _fields(holder).items() if ours == target)]:
            if name in parent:
                return (*loc[: length - 1], name), parent.pop(name)
    return None


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


def _keep_raw(parsed: OosModel, path: tuple[Any, ...], raw: Any) -> None:
    """Put a dropped value back as an extra field of the model it was sent in."""
    node: Any = parsed
    for part in path[:-1]:
        if isinstance(node, BaseModel) and isinstance(part, str):
            field = _fields(type(node)).get(part)  # type: ignore[arg-type]
            node = getattr(node, field[0]) if field else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    if isinstance(node, BaseModel) and node.__pydantic_extra__ is not None:
        node.__pydantic_extra__[path[-1]] = raw


@functools.cache
def _fields(model: type[OosModel]) -> dict[str, tuple[str, type[OosModel] | None]]:
    """Sent name (alias or field name) -> (field name, the OosModel its value holds, if any)."""
    found: dict[str, tuple[str, type[OosModel] | None]] = {}
    for name, info in model.model_fields.items():
        entry = (name, _model_in(info.annotation))
        choices = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
        for sent in (name, info.alias, info.validation_alias, *choices):
            if isinstance(sent, str):
                found[sent] = entry
    return found


def _model_in(annotation: Any) -> type[OosModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, OosModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            if (inner := _model_in(arg)) is not None:
                return inner
    return None
