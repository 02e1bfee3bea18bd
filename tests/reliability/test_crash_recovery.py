"""Crash recovery with real processes: a triggerer restarted mid-wait, a worker killed mid-wait.

Triggerer: the deferrable operator defers; its trigger is serialized (classpath + kwargs, through
JSON as the metadata DB keeps them); a separate Python process rebuilds the trigger from them and
runs it in an event loop, as a triggerer does; it is SIGKILLed mid-wait (after it has polled); a
new process starts from the same serialized kwargs and must yield the one right event, which
`execute_complete` turns into the summary. No second execution is created.

Worker: `airflow dags test` runs a DAG with a sync OosCreateExecutionOperator in its own process
group against a copy of the metadata DB; once the execution exists (and, on Airflow >= 3.3, its id
is in the task_state_store) the whole process group is SIGKILLed. Then `airflow tasks test` runs
the same task instance of the same DAG run again, the way a retry would.
- Airflow >= 3.3: the retry reads the id back (ResumableJobMixin) and reconnects: the emulator's
  createExecutionCalls stays 1 and the run succeeds with the first execution's id.
- Airflow 3.1: there is no task_state_store; the retry finds the first execution by its Airflow
  tags (reattach, issue 10) and waits on it: createExecutionCalls stays 1 here too.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos.client.models import is_final

from .figures import record
from .support import (
    RecordingEmulator,
    airflow_env,
    airflow_home_copy,
    connection_json,
    context_for,
    execution_reads,
    kill_group,
    step_template,
    wait_for,
)

HAS_TASK_STATE_STORE = True
try:
    from airflow.sdk import ResumableJobMixin  # noqa: F401
except ImportError:  # Airflow < 3.3
    HAS_TASK_STATE_STORE = False

LOGICAL_DATE = "2026-01-01T00:00:00+00:00"
DAG_ID = "reliability_worker_crash"


# ---- triggerer restart -------------------------------------------------------------------------

TRIGGERER = textwrap.dedent(
    """
    import asyncio, importlib, json, sys

    async def main():
        classpath, kwargs = json.loads(sys.argv[1])
        module, _, name = classpath.rpartition(".")
        trigger = getattr(importlib.import_module(module), name)(**kwargs)
        events = [event.payload async for event in trigger.run()]
        from airflow_provider_oos.client.session_pool import close_all_sessions
        await close_all_sessions()
        print("EVENTS " + json.dumps(events), flush=True)

    asyncio.run(main())
    """
)


def test_trigger_cancelled_mid_wait_resumes_from_serialized_kwargs_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quick in-process twin of the test below (no process start-up cost): a trigger run is
    cancelled mid-wait, as a stopping triggerer cancels it, and a trigger rebuilt from the JSON of
    its kwargs yields the one right event."""
    import asyncio

    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]

    emulator = RecordingEmulator(time_scale=0.5, instances=["i-ok"]).start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(emulator, max_retries=3))
        operator = OosCreateExecutionOperator(
            task_id="deferred",
            template=step_template("trigger-cancel", instance="i-ok", shell_seconds=2),
            poll_interval=0.2,
            deferrable=True,
        )
        context = context_for("deferred")
        with pytest.raises(TaskDeferred) as deferral:
            operator.execute(context)
        classpath, kwargs = json.loads(json.dumps(deferral.value.trigger.serialize()))
        execution_id = context["ti"].xcom["execution_id"]
        emulator.admin("POST", f"executions/{execution_id}/pause")

        def rebuilt() -> Any:
            module, _, name = classpath.rpartition(".")
            return getattr(importlib.import_module(module), name)(**kwargs)

        async def first_then_second() -> list[Any]:
            first = asyncio.ensure_future(rebuilt().run().__anext__())
            before = execution_reads(emulator)
            while execution_reads(emulator) < before + 2:  # it is polling the paused execution
                await asyncio.sleep(0.05)
            first.cancel()  # the triggerer goes away mid-wait
            with pytest.raises(asyncio.CancelledError):
                await first
            emulator.admin("POST", f"executions/{execution_id}/resume")
            events = [event.payload async for event in rebuilt().run()]
            await close_all_sessions()
            return events

        events = asyncio.run(first_then_second())
        assert len(events) == 1 and events[0]["status"] == "success", events
        assert events[0]["execution_id"] == execution_id
        assert operator.execute_complete(context, events[0])["state"] == "SUCCESS"
        assert emulator.create_calls() == 1
    finally:
        emulator.stop()


@pytest.mark.reliability
def test_triggerer_restarted_mid_wait_resumes_from_serialized_kwargs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    emulator = RecordingEmulator(time_scale=0.5, instances=["i-ok"]).start()
    try:
        conn = connection_json(emulator, max_retries=3, retry_wait_min=0.05, retry_wait_max=0.2)
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", conn)
        operator = OosCreateExecutionOperator(
            task_id="deferred",
            template=step_template("triggerer-restart", instance="i-ok", shell_seconds=2),
            poll_interval=0.3,
            deferrable=True,
            timeout=300,
        )
        context = context_for("deferred")
        with pytest.raises(TaskDeferred) as deferral:
            operator.execute(context)
        # Through JSON, as the metadata DB keeps trigger kwargs.
        serialized = json.dumps(deferral.value.trigger.serialize())
        execution_id = context["ti"].xcom["execution_id"]
        env = {**os.environ, "AIRFLOW_CONN_OOS_DEFAULT": conn}

        # Paused (as if it waited for a person) while the first process polls: what it sees
        # cannot depend on how long a Python process takes to start on a loaded machine.
        emulator.admin("POST", f"executions/{execution_id}/pause")
        before = execution_reads(emulator)
        first = subprocess.Popen(
            [sys.executable, "-c", TRIGGERER, serialized],
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
        )
        wait_for(
            lambda: execution_reads(emulator) >= before + 2, 120, "the first triggerer process to poll twice"
        )
        state_at_kill = emulator.admin("GET", "executions")["executions"][0]["state"]
        kill_group(first)
        assert first.stdout is not None and "EVENTS" not in first.stdout.read().decode()
        assert state_at_kill == "PAUSED", state_at_kill
        emulator.admin("POST", f"executions/{execution_id}/resume")

        second = subprocess.run(
            [sys.executable, "-c", TRIGGERER, serialized],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr[-2000:]
        line = next(line for line in second.stdout.splitlines() if line.startswith("EVENTS "))
        events = json.loads(line[len("EVENTS ") :])
        assert len(events) == 1, events
        event = events[0]
        assert event["status"] == "success" and event["execution_id"] == execution_id, event
        summary = operator.execute_complete(context, event)
        assert summary["state"] == "SUCCESS" and summary["execution_id"] == execution_id
        assert emulator.create_calls() == 1
        record(
            "crash recovery",
            triggerer_restart="killed while "
            + state_at_kill
            + ", new process yielded 1 success event; creates: 1",
        )
    finally:
        emulator.stop()


# ---- worker killed mid-wait --------------------------------------------------------------------

DAG_FILE = textwrap.dedent(
    f"""
    import pendulum
    from airflow.sdk import DAG
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    with DAG(dag_id="{DAG_ID}", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
        OosCreateExecutionOperator(
            task_id="maintain",
            template={{
                "name": "worker-crash",
                "linear": True,
                "operators": [
                    {{
                        "name": "work",
                        "operator": "BCE::Agent::ExecuteShell",
                        "properties": {{"content": "echo work\\n# emulator: sleep 20\\n"}},
                    }},
                    {{
                        "name": "reboot",
                        "operator": "BCE::BCC::RebootInstance",
                        "properties": {{"instances": [{{"instanceId": "i-ok"}}]}},
                    }},
                ],
            }},
            poll_interval=0.5,
            deferrable=False,
            retries=1,
        )
    """
)


def stored_execution_ids(home: Path) -> list[str]:
    if not HAS_TASK_STATE_STORE:
        return []
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT value FROM task_state_store WHERE dag_id = ? AND task_id = ? AND key = ?",
            (DAG_ID, "maintain", "oos_execution_id"),
        ).fetchall()
    return [json.loads(value) if value.startswith('"') else value for (value,) in rows]


@pytest.mark.reliability
def test_worker_killed_mid_wait_then_retried(tmp_path: Path) -> None:
    emulator = RecordingEmulator(time_scale=0.5, instances=["i-ok"]).start()  # the shell step lasts ~10 s
    home = airflow_home_copy(tmp_path, DAG_ID, DAG_FILE)
    env = airflow_env(home, connection_json(emulator, max_retries=3, retry_wait_min=0.1, retry_wait_max=1))
    airflow = [sys.executable, "-m", "airflow"]
    first_log = tmp_path / "first-run.log"
    try:
        with first_log.open("w") as out:
            first = subprocess.Popen(
                [*airflow, "dags", "test", DAG_ID, LOGICAL_DATE],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for(lambda: emulator.create_calls() == 1, 240, "the first run to create its execution")
                if HAS_TASK_STATE_STORE:
                    wait_for(lambda: bool(stored_execution_ids(home)), 60, "the id in the task_state_store")
                else:
                    time.sleep(1.0)  # let it start waiting
                executions = emulator.executions()
                first_id = executions[0]["id"]
                assert not is_final(executions[0]["state"]), "the execution finished before the crash"
            finally:
                kill_group(first)  # the worker dies mid-wait: no cleanup, no on_kill
        assert stored_execution_ids(home) == ([first_id] if HAS_TASK_STATE_STORE else [])
        if HAS_TASK_STATE_STORE:
            # Held PAUSED until the retry is polling it, so the retry meets it mid-run however
            # long Airflow takes to start here (else it might find it already finished).
            emulator.admin("POST", f"executions/{first_id}/pause")
        gets_before = execution_reads(emulator)
        second_log = tmp_path / "second-run.log"
        with second_log.open("w") as out:
            second = subprocess.Popen(
                [*airflow, "tasks", "test", DAG_ID, "maintain", LOGICAL_DATE],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                if HAS_TASK_STATE_STORE:
                    wait_for(
                        lambda: execution_reads(emulator) >= gets_before + 3,
                        240,
                        "the retry to poll the execution",
                    )
                    emulator.admin("POST", f"executions/{first_id}/resume")
                second.wait(timeout=300)
            finally:
                if second.poll() is None:
                    kill_group(second)
        output = second_log.read_text(errors="replace")
        final = {e["id"]: e["state"] for e in emulator.executions()}
        if HAS_TASK_STATE_STORE:
            assert "Reconnecting to existing job" in output, output[-3000:]
            assert emulator.create_calls() == 1, f"a duplicate execution was created: {final}"
            assert final == {first_id: "SUCCESS"}, final
            outcome = f"reconnected to {first_id}; createExecutionCalls 1; final SUCCESS"
        else:
            # No task_state_store on this Airflow: the retry finds the first id by its tags.
            assert "reattaching to it instead of starting another" in output, output[-3000:]
            assert emulator.create_calls() == 1, f"a duplicate execution was created: {final}"
            assert final == {first_id: "SUCCESS"}, final
            outcome = f"reattached by tags to {first_id}; createExecutionCalls 1; final SUCCESS"
        assert second.returncode == 0, output[-3000:]
        assert "SUCCESS" in output or "success" in output.lower()
        record("crash recovery", worker_kill=outcome)
    finally:
        emulator.stop()
