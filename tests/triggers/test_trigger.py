"""OosExecutionTrigger: serialization, one event per run, async polling against the emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.triggers.oos import OosExecutionTrigger
from tests.support.oos_server import Reply, ScriptedOosServer
from tests.support.oos_task_helpers import (
    FAST_RETRY_EXTRAS,
    run_trigger,
    shell,
    template,
    wait_for_state,
)

CLASSPATH = "airflow_provider_oos.triggers.oos.OosExecutionTrigger"


def start(*lines: str) -> str:
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook().create_execution(template("triggered", shell("work", *lines)))


def test_serialize_round_trip_keeps_everything_needed_after_a_restart() -> None:
    deadline = time.time() + 600
    trigger = OosExecutionTrigger("d-abc", "oos_prod", 12.5, deadline, "fail")
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "execution_id": "d-abc",
        "oos_conn_id": "oos_prod",
        "poll_interval": 12.5,
        "deadline": deadline,
        "on_paused": "fail",
    }
    json.dumps(kwargs)  # stored in the metadata DB as JSON
    again = OosExecutionTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert "SecretKey" not in repr(again)


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        OosExecutionTrigger("d-1", poll_interval=0)
    with pytest.raises(ValueError, match="on_paused"):
        OosExecutionTrigger("d-1", on_paused="maybe")


async def test_yields_exactly_one_success_event(emulator: EmulatorHandle) -> None:
    execution_id = await asyncio.to_thread(start, "# emulator: sleep 5", "# emulator: output A=1")
    events = await run_trigger(OosExecutionTrigger(execution_id, poll_interval=0.05))
    assert len(events) == 1
    event = events[0]
    assert event["status"] == "success" and event["state"] == "SUCCESS"
    assert event["execution_id"] == execution_id and execution_id in event["console_url"]
    assert event["summary"]["tasks"]["work"]["outputs"]["A"] == "1"


async def test_deadline_already_passed_reports_timeout_after_one_look(emulator: EmulatorHandle) -> None:
    execution_id = await asyncio.to_thread(start, "# emulator: sleep 100")
    # On a busy machine the first look could still find it PENDING; the look itself is what counts.
    await asyncio.to_thread(wait_for_state, emulator, execution_id, {"RUNNING"})
    events = await run_trigger(OosExecutionTrigger(execution_id, poll_interval=5, deadline=time.time() - 1))
    assert [(e["status"], e["state"]) for e in events] == [("timeout", "RUNNING")]


async def test_missing_execution_is_an_error_event_at_once(emulator: EmulatorHandle) -> None:
    started = time.monotonic()
    events = await run_trigger(OosExecutionTrigger("d-doesnotexist", poll_interval=5))
    assert [e["status"] for e in events] == ["error"]
    assert "d-doesnotexist" in events[0]["message"]
    assert time.monotonic() - started < 4  # not retried: a 404 cannot get better


async def test_unusable_connection_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "baidu_oos",
        "login": "ak",
        "password": "sk",
        "host": "http://127.0.0.1:1",
        "extra": {"bogus": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_OOS_BROKEN", json.dumps(conn))
    events = await run_trigger(OosExecutionTrigger("d-1", oos_conn_id="oos_broken", poll_interval=1))
    assert [e["status"] for e in events] == ["error"]
    assert "oos_broken" in events[0]["message"] and "sk" not in events[0]["message"].split()


async def test_unreachable_service_gives_up_after_bounded_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "baidu_oos", "login": "ak", "password": "sk", "host": "http://127.0.0.1:1"}
    conn["extra"] = FAST_RETRY_EXTRAS
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DOWN", json.dumps(conn))
    events = await run_trigger(OosExecutionTrigger("d-1", oos_conn_id="oos_down", poll_interval=0.01))
    assert [e["status"] for e in events] == ["error"]
    assert "5 failed API call(s) in a row" in events[0]["message"]


async def test_on_kill_says_execution_keeps_running(capsys: pytest.CaptureFixture[str]) -> None:
    trigger = OosExecutionTrigger("d-keep", poll_interval=1)
    await trigger.on_kill()
    out = capsys.readouterr().out
    assert "no API to cancel" in out and "d-keep" in out and "keeps running" in out


def scripted_failure(server: ScriptedOosServer, *with_log_reply: Reply) -> None:
    running = {
        "id": "d-1",
        "state": "RUNNING",
        "tasks": [{"id": "t", "state": "RUNNING", "operator": {"name": "migrate"}}],
    }
    failed = {
        "id": "d-1",
        "state": "FAILED",
        "finishedTimestamp": 1764300000000,
        "tasks": [{"id": "t", "state": "FAILED", "reason": "exit code 3", "operator": {"name": "migrate"}}],
    }
    server.script("GET", "/v2/execution", Reply.ok(running), Reply.ok(failed), *with_log_reply)


async def test_failure_event_is_small_and_carries_the_log_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls read no logs; the failure is read once with logs, and only its tail travels in the event."""
    huge = [
        {"timestamp": f"2026-11-28T03:00:{i % 60:02d}Z", "msg": f"line {i} " + "x" * 200} for i in range(300)
    ]
    with ScriptedOosServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(max_retries=0))
        failed_with_log = {
            "id": "d-1",
            "state": "FAILED",
            "tasks": [
                {
                    "id": "t",
                    "state": "FAILED",
                    "reason": "exit code 3",
                    "operator": {"name": "migrate"},
                    "log": huge,
                }
            ],
        }
        scripted_failure(server, Reply.ok(failed_with_log))
        events = await run_trigger(OosExecutionTrigger("d-1", poll_interval=0.01))
        flags = [r.query.get("withLog", "false") for r in server.calls("GET", "/v2/execution")]
    assert flags == ["false", "false", "true"]
    (event,) = events
    assert set(event) == {
        "status",
        "execution_id",
        "state",
        "message",
        "console_url",
        "finished_timestamp",
        "summary",
    }
    assert (event["status"], event["state"], event["summary"]) == ("failed", "FAILED", None)
    assert "'migrate'" in event["message"] and "exit code 3" in event["message"]
    assert "line 299" in event["message"] and "line 294" not in event["message"]  # the tail only
    assert len(json.dumps(event)) < 4096  # stored in the metadata DB: no execution, no full log


async def test_failure_event_when_the_read_with_logs_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOosServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(max_retries=0))
        scripted_failure(server, Reply(status=500, json={"code": "InternalError", "message": "oops"}))
        (event,) = await run_trigger(OosExecutionTrigger("d-1", poll_interval=0.01))
    assert event["status"] == "failed" and event["finished_timestamp"] == 1764300000000
    assert "'migrate'" in event["message"] and "exit code 3" in event["message"]
    assert "log could not be read" in event["message"]
