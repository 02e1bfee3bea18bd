"""Helpers for the operator/sensor/trigger tests: a small task context, templates, emulator waits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from oos_emulator.process import EmulatorHandle

# Fast, bounded client retries so fault-injection tests take fractions of a second.
FAST_RETRY_EXTRAS = {"max_retries": 0, "retry_wait_min": 0.01, "retry_wait_max": 0.02}

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]

__all__ = ["TaskDeferred"]


class RecordingTaskInstance:
    """The part of a running task instance that our operators use: identity and xcom_push."""

    def __init__(self, dag_id: str = "test_dag", task_id: str = "oos_task", try_number: int = 1) -> None:
        self.dag_id = dag_id
        self.run_id = "manual__test"
        self.task_id = task_id
        self.map_index = -1
        self.try_number = try_number
        self.stats_tags: dict[str, str] = {}
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON, as in a real run
        self.xcoms[key] = value


def task_context(**ti_args: Any) -> dict[str, Any]:
    ti = RecordingTaskInstance(**ti_args)
    return {"ti": ti, "task_instance": ti}


def connection_json(emulator: EmulatorHandle, **extra: Any) -> str:
    conn = json.loads(emulator.conn_json)
    conn["extra"] = {**conn.get("extra", {}), **extra}
    return json.dumps(conn)


def step(name: str, action: str, **properties: Any) -> dict[str, Any]:
    return {"name": name, "operator": action, "properties": properties}


def shell(name: str, *lines: str) -> dict[str, Any]:
    return step(name, "BCE::Agent::ExecuteShell", content="\n".join(["echo start", *lines]))


def template(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "operators": list(steps)}


def execution_state(emulator: EmulatorHandle, execution_id: str) -> str | None:
    for item in emulator.executions():
        if item.get("id") == execution_id:
            return item.get("state")
    return None


def wait_for_state(emulator: EmulatorHandle, execution_id: str, states: set[str], limit: float = 20) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = execution_state(emulator, execution_id)
        if state in states:
            return state
        time.sleep(0.02)
    raise AssertionError(
        f"{execution_id} never reached {states}; last {execution_state(emulator, execution_id)}"
    )


def clear_faults_after_failed_reads(emulator: EmulatorHandle, reads: int = 2) -> threading.Thread:
    """Clear the injected faults once the client has seen `reads` failed execution reads."""

    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            counts = emulator.admin("GET", "stats")["requests"]
            if counts.get("GET /api/logic/oos/v2/execution", 0) >= reads:
                emulator.clear_faults()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def approve_when_paused(emulator: EmulatorHandle, after: float = 0.3) -> threading.Thread:
    """A person approves the (only) paused execution a little after it pauses."""

    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            paused = [e["id"] for e in emulator.executions() if e.get("state") == "PAUSED"]
            if paused:
                time.sleep(after)
                emulator.admin("POST", f"executions/{paused[0]}/approve")
                return
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def run_trigger(trigger: Any, limit: float = 30) -> list[dict[str, Any]]:
    """All events the trigger yields (it must stop by itself), with the pooled sessions closed after."""
    from airflow_provider_oos.client.session_pool import close_all_sessions

    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    try:
        await asyncio.wait_for(collect(), limit)
    finally:
        await close_all_sessions()
    return events


def api_requests(emulator: EmulatorHandle) -> int:
    return sum(emulator.admin("GET", "stats")["requests"].values())
