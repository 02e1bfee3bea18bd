"""Fault injection rules, per OOS path and optional method.

429 and 503 are refused before the request is handled (the gateway says no). 500 and a dropped
connection happen *after* the request was handled: the call took effect but the answer is lost,
the case that shows whether a client wrongly retries a non-idempotent create.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

_RATE_FIELDS = ("error500", "error503", "error429", "drop")


@dataclass(frozen=True)
class FaultRule:
    path: str
    method: str | None = None
    error500: float = 0.0
    error503: float = 0.0
    error429: float = 0.0
    drop: float = 0.0
    latency_ms: int = 0
    latency_rate: float = 1.0

    @classmethod
    def from_json(cls, spec: Any) -> FaultRule:
        if not isinstance(spec, dict):
            raise ValueError("fault spec must be a JSON object")
        known = {"path", "method", "latencyMs", "latencyRate", *_RATE_FIELDS}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        path = spec.get("path")
        if not isinstance(path, str) or not path.startswith("/api/logic/oos/"):
            raise ValueError("path must be an OOS API path such as /api/logic/oos/v2/execution")
        method = spec.get("method")
        if method is not None and (not isinstance(method, str) or not method.isalpha()):
            raise ValueError("method must be an HTTP method name such as GET")
        rates = {}
        for name in _RATE_FIELDS:
            value = spec.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
            rates[name] = float(value)
        if sum(rates.values()) > 1:
            raise ValueError("error500 + error503 + error429 + drop must not exceed 1")
        latency_ms = spec.get("latencyMs", 0)
        latency_rate = spec.get("latencyRate", 1.0)
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise ValueError(f"latencyMs must be a non-negative integer, got {latency_ms!r}")
        if (
            isinstance(latency_rate, bool)
            or not isinstance(latency_rate, int | float)
            or not 0 <= latency_rate <= 1
        ):
            raise ValueError(f"latencyRate must be a probability between 0 and 1, got {latency_rate!r}")
        return cls(
            path=path,
            method=method.upper() if method else None,
            latency_ms=latency_ms,
            latency_rate=float(latency_rate),
            **rates,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latencyMs"] = data.pop("latency_ms")
        data["latencyRate"] = data.pop("latency_rate")
        return data


@dataclass(frozen=True)
class FaultDecision:
    latency_seconds: float = 0.0
    outcome: str | None = None  # "500", "503", "429", "drop" or None


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

    def decide(self, method: str, path: str) -> FaultDecision | None:
        if not self._rules:
            return None
        rule = self._rules.get((path, method)) or self._rules.get((path, None))
        if rule is None:
            return None
        latency = (
            rule.latency_ms / 1000 if rule.latency_ms and self._rng.random() < rule.latency_rate else 0.0
        )
        roll = self._rng.random()
        outcome = None
        for name, rate in (
            ("drop", rule.drop),
            ("500", rule.error500),
            ("503", rule.error503),
            ("429", rule.error429),
        ):
            if roll < rate:
                outcome = name
                break
            roll -= rate
        return FaultDecision(latency, outcome)
