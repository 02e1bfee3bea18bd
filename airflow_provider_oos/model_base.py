"""The tolerant reader under every OOS model (`OosModel`), and `read_answer` to read an answer with it.

Reading is strict only on the fields a model lists in `_DECIDED` (what the provider decides on).
Any other field that does not fit its type is read as None and kept as raw JSON, so `to_api()`
still gives it back: a field the provider does not need never makes an answer unreadable.
Unknown fields are kept too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from typing_extensions import Self

M = TypeVar("M", bound="OosModel")


class OosModel(BaseModel):
    """Base of every OOS model: camelCase aliases, unknown fields kept, tolerant of what it does not need.

    Models of answers read tolerantly by default. A model a user writes (a template, a tag) sets
    `_STRICT = True` and is strict, except inside an answer: `read_answer` validates with the
    context `{"lenient": True}`, which reaches every nested model.
    """

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")

    _DECIDED: ClassVar[frozenset[str]] = frozenset()  # field names that must read as typed
    _STRICT: ClassVar[bool] = False
    # Published names read into another field (sent name -> our alias), written back as sent.
    _RENAMES: ClassVar[dict[str, str]] = {}
    _unread: dict[str, Any] | None = PrivateAttr(default=None)  # sent key -> raw JSON that did not fit
    _renamed: tuple[str, ...] = PrivateAttr(default=())  # the sent names of _RENAMES used

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:  # type: ignore[override]
        if not cls._STRICT:
            kwargs.setdefault("context", {"lenient": True})
        return super().model_validate(obj, **kwargs)

    @model_validator(mode="wrap")
    @classmethod
    def _read_tolerantly(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        renamed: tuple[str, ...] = ()
        if cls._RENAMES and isinstance(data, Mapping):
            renamed = tuple(k for k, ours in cls._RENAMES.items() if k in data and ours not in data)
            if renamed:
                data = {cls._RENAMES.get(k, k) if k in renamed else k: v for k, v in data.items()}
        try:
            model = handler(data)
        except ValidationError as exc:
            lenient = bool(info.context and info.context.get("lenient"))
            if not isinstance(data, Mapping) or (cls._STRICT and not lenient):
                raise
            unread = cls._unreadable_keys(exc)
            if unread is None:
                raise
            model = handler({key: value for key, value in data.items() if key not in unread})
            model._unread = {key: data[key] for key in unread}
        if renamed:
            model._renamed = renamed
        return model

    @classmethod
    def _unreadable_keys(cls, exc: ValidationError) -> set[str] | None:
        """The keys (as sent) of the non-decided fields that failed; None if a decided one failed."""
        keys: set[str] = set()
        for error in exc.errors(include_url=False):
            loc = error.get("loc") or ()
            key = loc[0] if loc else None
            name = cls._field_name(key)
            if not isinstance(key, str) or name is None or name in cls._DECIDED:
                return None
            keys.add(key)
        return keys

    @classmethod
    def _field_name(cls, key: Any) -> str | None:
        for name, field_info in cls.model_fields.items():
            if key in (name, field_info.alias):
                return name
        return None

    @model_serializer(mode="wrap")
    def _write_as_read(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict) or not (self._unread or self._renamed):
            return data
        for key, value in (self._unread or {}).items():
            name = self._field_name(key) or key
            alias = self.model_fields[name].alias if name in self.model_fields else None
            data[(alias or name) if info.by_alias else name] = value
        if info.by_alias and self._renamed:
            back = {self._RENAMES[sent]: sent for sent in self._renamed}
            data = {back.get(key, key): value for key, value in data.items()}
        return data

    def to_api(self) -> dict[str, Any]:
        """JSON-ready dict by alias, without fields that were never set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def read_answer(model: type[M], data: Any) -> M:
    """Validate an answer of the service, tolerantly (see the module docstring)."""
    return model.model_validate(data, context={"lenient": True})
