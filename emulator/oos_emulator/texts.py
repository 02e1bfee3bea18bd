"""The `locale` of OOS answers: reason texts (execution and task `reason`, the envelope's `msg`) in
Chinese by default, in English with `locale=en-us`.

OOS publishes an optional `locale` query parameter on every call (`zh-cn` by default, `en-us`).
Each text the emulator writes is a `Text` holding both renderings; the answer picks one.

An execution's reasons are written by the engine, long before anyone asks. The stored body keeps
the default (Chinese) text, exactly as answered by default; the execution's runtime keeps the
English of each of those texts (`ENGLISH_KEY`), so an `en-us` answer is the same body with those
strings swapped, and a restart from SQLite keeps both.

Not localized, on purpose: task `log` lines (what the action printed), the BCE gateway's error
body (`{"code", "message"}`: BCE's common gateway answers in English) and the admin API (not OOS).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DEFAULT_LOCALE = "zh-cn"
ENGLISH = "en-us"
LOCALES = (DEFAULT_LOCALE, ENGLISH)
# runtime key of an execution: {default-locale text: English text} for every reason in its body.
ENGLISH_KEY = "englishTexts"


@dataclass(frozen=True)
class Text:
    """One message in both published locales; `str()` is the English (logs, exceptions)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return self.en

    def render(self, locale: str) -> str:
        return self.en if locale == ENGLISH else self.zh


def t(en: str, zh: str, /, **params: Any) -> Text:
    """A `Text` from two `str.format` templates; a `Text` parameter is rendered in each language."""
    return Text(
        zh=zh.format(**{k: v.zh if isinstance(v, Text) else v for k, v in params.items()}),
        en=en.format(**{k: v.en if isinstance(v, Text) else v for k, v in params.items()}),
    )


def same(text: str) -> Text:
    """A text that reads the same in both locales (e.g. an error text from a parser)."""
    return Text(text, text)


CANCELED_BY_USER = Text("执行被用户取消", "execution canceled by user")


def request_locale(value: str | None) -> str:
    """The answer's locale from the `locale` query parameter.

    oos-api.md names only `zh-cn` (the default) and `en-us` and says nothing of other values, so
    an absent, empty or unknown value (`en_US`, `fr-fr`) is answered like the default, not refused.
    Only the published spellings count: a client that sends another one sees Chinese here, as it
    may from the service.
    """
    return value if value in LOCALES else DEFAULT_LOCALE


def put_reason(target: dict[str, Any], text: Text | None, runtime: dict[str, Any]) -> None:
    """Set (or, with None, clear) `target["reason"]`: the default text, its English remembered."""
    if text is None:
        target.pop("reason", None)
        return
    target["reason"] = text.zh
    if text.zh != text.en:
        runtime.setdefault(ENGLISH_KEY, {})[text.zh] = text.en


def reason_of(target: dict[str, Any], runtime: dict[str, Any]) -> Text | None:
    """The stored reason of an execution or task, back in both locales."""
    reason = target.get("reason")
    if not isinstance(reason, str) or not reason:
        return None
    return Text(reason, runtime.get(ENGLISH_KEY, {}).get(reason, reason))


def localize_task(task: dict[str, Any], locale: str, runtime: dict[str, Any]) -> dict[str, Any]:
    """A task view (and its children) with its reasons in `locale`; the input is not changed."""
    english = runtime.get(ENGLISH_KEY)
    if locale != ENGLISH or not english:
        return task
    return _swap(task, english)


def localize_execution(view: dict[str, Any], locale: str, runtime: dict[str, Any]) -> dict[str, Any]:
    """An execution view with its own and its tasks' reasons in `locale`; the input is not changed."""
    english = runtime.get(ENGLISH_KEY)
    if locale != ENGLISH or not english:
        return view
    localized = {**view, "tasks": [_swap(task, english) for task in view.get("tasks") or []]}
    if isinstance(view.get("reason"), str):
        localized["reason"] = english.get(view["reason"], view["reason"])
    return localized


def _swap(task: dict[str, Any], english: dict[str, str]) -> dict[str, Any]:
    swapped = copy.copy(task)
    if isinstance(task.get("reason"), str):
        swapped["reason"] = english.get(task["reason"], task["reason"])
    if task.get("children"):
        swapped["children"] = [_swap(child, english) for child in task["children"]]
    return swapped
