"""Fault injection rules, per OOS path (either path style, matched exactly) and optional method.

Refused before the call is handled (the gateway says no, nothing happens):
  `error429`, `error503`.
Committed first, then the answer fails (the call took effect; the client cannot know):
  `error500`              answered 500 InternalError
  `error503AfterCommit`   answered 503 ServiceUnavailable
  `drop`                  the connection is closed without an answer
  `answerDelayMs`         the answer is held this long (with `answerDelayRate`, default 1), e.g.
                          past the client's read timeout; combines with the outcomes above
Other:
  `latencyMs`             the request waits this long *before* it is handled (`latencyRate`)
  `listVisibilityDelayMs` only on a create-execution path: executions it creates appear in the
                          list-executions call only this long after their creation
The rates of `error500`, `error503`, `error503AfterCommit`, `error429` and `drop` add up to at most 1.
These are the cases that show whether a client wrongly resends a non-idempotent create.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from oos_emulator.paths import is_oos_path, operation_path

_RATE_FIELDS = {
    "error500": "error500",
    "error503": "error503",
    "error503AfterCommit": "error503_after_commit",
    "error429": "error429",
    "drop": "drop",
}
_DURATION_FIELDS = {
    "latencyMs": "latency_ms",
    "answerDelayMs": "answer_delay_ms",
    "listVisibilityDelayMs": "list_visibility_delay_ms",
}
_PROBABILITY_FIELDS = {"latencyRate": "latency_rate", "answerDelayRate": "answer_delay_rate"}
_OUTCOMES = (
    ("drop", "drop"),
    ("error500", "500"),
    ("error503_after_commit", "503-after-commit"),
    ("error503", "503"),
    ("error429", "429"),
)


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FaultRule:
    path: str
    method: str | None = None
    error500: float = 0.0
    error503: float = 0.0
    error503_after_commit: float = 0.0
    error429: float = 0.0
    drop: float = 0.0
    latency_ms: int = 0
    latency_rate: float = 1.0
    answer_delay_ms: int = 0
    answer_delay_rate: float = 1.0
    list_visibility_delay_ms: int = 0

    @classmethod
    def from_json(cls, spec: Any) -> FaultRule:
        if not isinstance(spec, dict):
            raise ValueError("fault spec must be a JSON object")
        known = {"path", "method", *_RATE_FIELDS, *_DURATION_FIELDS, *_PROBABILITY_FIELDS}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        path = spec.get("path")
        if not isinstance(path, str) or not is_oos_path(path):
            raise ValueError(
                "path must be an OOS API path such as /api/logic/oos/v2/execution or /v2/execution"
            )
        method = spec.get("method")
        if method is not None and (not isinstance(method, str) or not method.isalpha()):
            raise ValueError("method must be an HTTP method name such as GET")
        values: dict[str, Any] = {}
        for name, attribute in _RATE_FIELDS.items():
            values[attribute] = _probability(name, spec.get(name, 0.0))
        if sum(values.values()) > 1:
            raise ValueError("error500 + error503 + error503AfterCommit + error429 + drop must not exceed 1")
        for name, attribute in _PROBABILITY_FIELDS.items():
            values[attribute] = _probability(name, spec.get(name, 1.0))
        for name, attribute in _DURATION_FIELDS.items():
            value = spec.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer (milliseconds), got {value!r}")
            values[attribute] = value
        if values["list_visibility_delay_ms"] and (
            operation_path(path) != "/v2/execution" or (method or "POST").upper() != "POST"
        ):
            raise ValueError(
                "listVisibilityDelayMs applies only to the create-execution call (POST …/v2/execution)"
            )
        return cls(path=path, method=method.upper() if method else None, **values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name, attribute in {**_RATE_FIELDS, **_DURATION_FIELDS, **_PROBABILITY_FIELDS}.items():
            data[name] = data.pop(attribute)
        return data


@dataclass(frozen=True)
class FaultDecision:
    latency_seconds: float = 0.0
    # "500", "503-after-commit", "drop" (after the call took effect), "503", "429" (before), or None
    outcome: str | None = None
    answer_delay_seconds: float = 0.0


class FaultTable:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: dict[tuple[str, str | None], FaultRule] = {}
        self._rng = rng or random.Random()

    def set(self, rule: FaultRule) -> None:
        self._rules[(rule.path, rule.method)] = rule

    def clear(self) -> None:
        self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        return [rule.to_json() for rule in self._rules.values()]

    def rule_for(self, method: str, path: str) -> FaultRule | None:
        if not self._rules:
            return None
        return self._rules.get((path, method)) or self._rules.get((path, None))

    def list_visibility_delay_ms(self, method: str, path: str) -> int:
        rule = self.rule_for(method, path)
        return rule.list_visibility_delay_ms if rule else 0

    def decide(self, method: str, path: str) -> FaultDecision | None:
        rule = self.rule_for(method, path)
        if rule is None:
            return None
        latency = (
            rule.latency_ms / 1000 if rule.latency_ms and self._rng.random() < rule.latency_rate else 0.0
        )
        roll = self._rng.random()
        outcome = None
        for attribute, name in _OUTCOMES:
            rate: float = getattr(rule, attribute)
            if roll < rate:
                outcome = name
                break
            roll -= rate
        delay = (
            rule.answer_delay_ms / 1000
            if rule.answer_delay_ms and self._rng.random() < rule.answer_delay_rate
            else 0.0
        )
        return FaultDecision(latency, outcome, delay)
