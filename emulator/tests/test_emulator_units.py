"""Unit tests of the emulator's pure parts: signature check, template rules, fault odds, engine clock."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from oos_emulator.engine import Engine, new_runtime, new_task
from oos_emulator.faults import FaultRule, FaultTable
from oos_emulator.signature import AuthRejected, KeyPair, parse_query, verify
from oos_emulator.store import ExecutionRecord, Store
from oos_emulator.templates import (
    TemplateInvalid,
    execution_properties,
    normalize_template,
    upstream_map,
)

from airflow_provider_oos.client.auth import format_timestamp, sign

KEYS = {"ak": KeyPair("ak", "sk")}
NOW = 1_700_000_000


def _signed(headers_to_sign: list[str] | None = None, **overrides: Any) -> dict[str, str]:
    headers = {
        "host": "127.0.0.1:8765",
        "x-bce-date": format_timestamp(NOW),
        "content-type": "application/json",
    }
    auth = sign(
        "ak",
        "sk",
        "GET",
        "/api/logic/oos/v2/execution",
        {"id": "d-1"},
        headers,
        NOW,
        headers_to_sign=headers_to_sign,
    )
    return {**headers, "authorization": auth, **overrides}


def test_verify_accepts_explicit_and_default_header_sets() -> None:
    for names in (["host", "x-bce-date"], None):
        key = verify(KEYS, "GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, _signed(names), now=NOW + 10)
        assert key.access_key == "ak" and "sk" not in repr(key)


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "now", "code"),
    [
        ("GET", "/api/logic/oos/v2/execution", {"id": "d-2"}, _signed(), NOW, "SignatureDoesNotMatch"),
        ("PUT", "/api/logic/oos/v2/execution", {"id": "d-1"}, _signed(), NOW, "SignatureDoesNotMatch"),
        ("GET", "/api/logic/oos/v2/template", {"id": "d-1"}, _signed(), NOW, "SignatureDoesNotMatch"),
        (
            "GET",
            "/api/logic/oos/v2/execution",
            {"id": "d-1"},
            _signed(host="evil:1"),
            NOW,
            "SignatureDoesNotMatch",
        ),
        ("GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, _signed(), NOW + 1801, "RequestExpired"),
        ("GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, _signed(), NOW - 901, "RequestExpired"),
        ("GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, {}, NOW, "AccessDenied"),
        (
            "GET",
            "/api/logic/oos/v2/execution",
            {"id": "d-1"},
            {"authorization": "bce-auth-v1/ak"},
            NOW,
            "InvalidHTTPAuthHeader",
        ),
    ],
)
def test_verify_rejections(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], now: int, code: str
) -> None:
    with pytest.raises(AuthRejected) as rejected:
        verify(KEYS, method, path, query, headers, now=now)
    assert rejected.value.code == code and 400 <= rejected.value.status < 500


def test_verify_unsigned_content_type_change_is_fine_but_signed_one_is_not() -> None:
    # Default set signs content-type; an explicit host;x-bce-date list does not.
    explicit = _signed(["host", "x-bce-date"], **{"content-type": "text/plain"})
    verify(KEYS, "GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, explicit, now=NOW)
    with pytest.raises(AuthRejected, match="does not match"):
        default = _signed(None, **{"content-type": "text/plain"})
        verify(KEYS, "GET", "/api/logic/oos/v2/execution", {"id": "d-1"}, default, now=NOW)


def test_parse_query_keeps_blank_values_and_decodes() -> None:
    assert parse_query(b"id=d-1&empty=&name=a%20b") == {"id": "d-1", "empty": "", "name": "a b"}


def test_normalize_template_fills_service_defaults_and_keeps_unknown_fields() -> None:
    snapshot = normalize_template(
        {"name": "t", "operators": [{"name": "a", "operator": "X", "custom": 1}], "x": 2}
    )
    assert snapshot["type"] == "INDIVIDUAL" and snapshot["linear"] is True and snapshot["x"] == 2
    assert snapshot["operators"][0] == {
        "name": "a",
        "operator": "X",
        "retries": 0,
        "retryInterval": 300000,  # the OpenAPI metadata's defaults
        "timeout": 21600000,
        "manually": False,
        "scheduleDelayMilli": 0,
        "pauseOnFailure": False,
        "properties": {},
        "initContext": {},
        "custom": 1,
    }


def test_upstream_map_for_linear_and_links() -> None:
    ops = [{"name": n, "operator": "X"} for n in "abc"]
    assert upstream_map(normalize_template({"name": "t", "operators": ops})) == {
        "a": [],
        "b": ["a"],
        "c": ["b"],
    }
    dag = normalize_template(
        {
            "name": "t",
            "operators": ops,
            "linear": False,
            "links": [{"src": "a", "dst": "c"}, {"src": "b", "dst": "c"}],
        }
    )
    assert upstream_map(dag) == {"a": [], "b": [], "c": ["a", "b"]}


def test_execution_properties_defaults_and_required() -> None:
    template = {"properties": [{"name": "a", "defaultValue": 1}, {"name": "b", "required": True}]}
    assert execution_properties(template, {"b": 2}) == {"a": 1, "b": 2}
    with pytest.raises(TemplateInvalid, match="'b'"):
        execution_properties(template, {})


def test_fault_table_odds_and_matching() -> None:
    table = FaultTable(random.Random(7))
    table.set(
        FaultRule.from_json(
            {
                "path": "/api/logic/oos/v2/execution",
                "method": "get",
                "error500": 0.25,
                "drop": 0.25,
                "latencyMs": 100,
                "latencyRate": 0.5,
            }
        )
    )
    decisions = [table.decide("GET", "/api/logic/oos/v2/execution") for _ in range(4000)]
    outcomes = [d.outcome for d in decisions if d]
    assert (
        abs(outcomes.count("500") / 4000 - 0.25) < 0.03 and abs(outcomes.count("drop") / 4000 - 0.25) < 0.03
    )
    assert abs(sum(1 for d in decisions if d and d.latency_seconds == 0.1) / 4000 - 0.5) < 0.04
    assert table.decide("POST", "/api/logic/oos/v2/execution") is None
    assert table.decide("GET", "/api/logic/oos/v2/template") is None


# --- engine, driven by an explicit clock -------------------------------------------------------------
def _execution(
    store: Store, steps: list[dict[str, Any]], created: int, execution_id: str = "d-unit", **template: Any
) -> ExecutionRecord:
    snapshot = normalize_template({"name": "t", "operators": steps, **template})
    tasks = [new_task(step, store.next_revision(), created) for step in snapshot["operators"]]
    body = {
        "id": execution_id,
        "template": snapshot,
        "createdTimestamp": created,
        "updatedTimestamp": created,
        "state": "PENDING",
        "properties": {},
        "tasks": tasks,
        "tags": [],
        "trigger": "MANUAL",
    }
    record = ExecutionRecord(body, new_runtime(tasks) | {"allProperties": {}})
    store.save_execution(record)
    return record


def _shell(name: str, script: str = "true", **fields: Any) -> dict[str, Any]:
    return {"name": name, "operator": "BCE::Agent::ExecuteShell", "properties": {"content": script}, **fields}


def test_engine_is_driven_by_timestamps() -> None:
    store = Store()
    engine = Engine(store, time_scale=1.0)
    record = _execution(store, [_shell("a", "# emulator: sleep 2"), _shell("b")], created=0)
    assert engine.tick(now=0) == 2000  # a runs until t=2000
    assert record.body["state"] == "RUNNING" and record.body["tasks"][0]["state"] == "RUNNING"
    assert engine.tick(now=1999) == 2000 and record.body["tasks"][0]["state"] == "RUNNING"
    assert engine.tick(now=2000) == 3000 and record.body["tasks"][1]["state"] == "RUNNING"
    assert engine.tick(now=3000) is None and record.body["state"] == "SUCCESS"
    assert record.body["finishedTimestamp"] == 3000


def test_engine_retry_interval_and_timeout_are_scaled() -> None:
    store = Store()
    engine = Engine(store, time_scale=0.5)
    flaky = _shell("flaky", "# emulator: fail-attempts 1", retries=1, retryInterval=4000, timeout=10000)
    record = _execution(store, [flaky], created=0)
    assert engine.tick(now=0) == 500  # 1 s action at scale 0.5
    assert engine.tick(now=500) == 2500 and record.body["tasks"][0]["state"] == "UP_FOR_RETRY"
    assert engine.tick(now=2500) == 3000
    engine.tick(now=3000)
    assert record.body["state"] == "SUCCESS" and record.body["tasks"][0]["tries"] == 1


def test_engine_state_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    store = Store(db)
    engine = Engine(store)
    _execution(store, [_shell("a", "# emulator: sleep 10"), _shell("b")], created=0)
    engine.tick(now=0)
    store.close()  # the emulator goes away mid-run

    reopened = Store(db)
    record = reopened.executions["d-unit"]
    assert (
        record.body["state"] == "RUNNING"
        and record.runtime["tasks"][record.body["tasks"][0]["id"]]["due"] == 10000
    )
    engine = Engine(reopened)
    engine.tick(now=60000)  # long after: the first step is over, the second starts now
    assert record.body["tasks"][0]["state"] == "SUCCESS" and record.body["tasks"][1]["state"] == "RUNNING"
    engine.tick(now=61000)
    assert record.body["state"] == "SUCCESS"


def test_engine_rejects_a_non_positive_time_scale() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        Engine(Store(), time_scale=0)


def test_a_pass_advances_only_executions_that_need_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many long-running executions must not make each create or pass cost a full advance of all."""
    from oos_emulator import run as run_module

    advanced: list[str] = []
    original = run_module.ExecutionPass.advance

    def counting(run: Any) -> bool:
        advanced.append(run.record.body["id"])
        return bool(original(run))

    monkeypatch.setattr(run_module.ExecutionPass, "advance", counting)
    store = Store()
    engine = Engine(store, time_scale=1.0)
    for index in range(50):
        _execution(store, [_shell("a", "# emulator: sleep 60")], created=0, execution_id=f"d-{index}")
    assert engine.tick(now=0) == 60_000 and len(advanced) == 50  # first pass: everything
    advanced.clear()
    _execution(store, [_shell("a", "# emulator: sleep 5")], created=10, execution_id="d-new")
    engine.poke("d-new")
    assert engine.tick(now=10) == 5_010 and advanced == ["d-new"]  # the others are not due
    advanced.clear()
    assert engine.tick(now=5_010) == 60_000 and advanced == ["d-new"]
    assert store.executions["d-new"].body["state"] == "SUCCESS"
