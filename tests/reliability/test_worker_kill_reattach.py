"""Reattach test (issue 10): a SIGKILLed worker's retry finds the execution by its tags, on every Airflow.

Real processes, as in test_crash_recovery: `airflow dags test` runs a DAG with a sync
OosCreateExecutionOperator in its own process group against a copy of the metadata DB; once the
execution exists the whole group is SIGKILLed mid-wait (no cleanup, no on_kill). Then `airflow tasks
test` runs the same task instance again, the way a retry would. The operator has `durable=False`,
so even on Airflow 3.3 the task_state_store is not asked: the retry must find the first try's
execution through the list-executions call and the Airflow tags alone (the only source on 3.1/3.2).
Expected on both Airflow versions: one execution, created once, and the task succeeds.
Runs in `make test` (both Airflow versions) and in the full reliability run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_oos.client.models import is_final

from .figures import record
from .support import (
    RecordingEmulator,
    airflow_env,
    airflow_home_copy,
    connection_json,
    execution_reads,
    kill_group,
    wait_for,
)

LOGICAL_DATE = "2026-01-01T00:00:00+00:00"
DAG_ID = "reliability_worker_kill_reattach"
DAG_FILE = textwrap.dedent(
    f"""
    import pendulum
    from airflow.sdk import DAG
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    with DAG(dag_id="{DAG_ID}", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False):
        OosCreateExecutionOperator(
            task_id="maintain",
            template={{
                "name": "worker-kill-reattach",
                "linear": True,
                "operators": [
                    {{
                        "name": "work",
                        "operator": "BCE::Agent::ExecuteShell",
                        "properties": {{"content": "echo work\\n# emulator: sleep 20\\n"}},
                    }},
                ],
            }},
            poll_interval=0.5,
            deferrable=False,
            durable=False,  # no task_state_store: the tags are the only way back
            retries=1,
        )
    """
)

pytestmark = pytest.mark.timeout(600)


def test_worker_sigkilled_mid_wait_reattaches_by_tags(tmp_path: Path) -> None:
    import airflow

    emulator = RecordingEmulator(time_scale=0.5, instances=["i-ok"]).start()  # the step lasts ~10 s
    home = airflow_home_copy(tmp_path, DAG_ID, DAG_FILE)
    env = airflow_env(home, connection_json(emulator, max_retries=3, retry_wait_min=0.1, retry_wait_max=1))
    airflow_cli = [sys.executable, "-m", "airflow"]
    try:
        with (tmp_path / "first-try.log").open("w") as out:
            first = subprocess.Popen(
                [*airflow_cli, "dags", "test", DAG_ID, LOGICAL_DATE],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for(lambda: emulator.create_calls() == 1, 240, "the first try to create its execution")
                wait_for(lambda: execution_reads(emulator) >= 1, 60, "the first try to start waiting")
                (execution,) = emulator.executions()
                first_id = execution["id"]
                assert not is_final(execution["state"]), "the execution finished before the crash"
            finally:
                kill_group(first)  # the worker dies mid-wait
        # Held PAUSED until the retry polls it, so the retry meets it mid-run however long
        # Airflow takes to start on a loaded machine (else it might find it already finished).
        emulator.admin("POST", f"executions/{first_id}/pause")
        before = execution_reads(emulator)
        second_log = tmp_path / "retry.log"
        with second_log.open("w") as out:
            second = subprocess.Popen(
                [*airflow_cli, "tasks", "test", DAG_ID, "maintain", LOGICAL_DATE],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for(
                    lambda: execution_reads(emulator) >= before + 3, 240, "the retry to poll the execution"
                )
                emulator.admin("POST", f"executions/{first_id}/resume")
                second.wait(timeout=300)
            finally:
                if second.poll() is None:
                    kill_group(second)
        output = second_log.read_text(errors="replace")
        final = {e["id"]: e["state"] for e in emulator.executions()}
        assert second.returncode == 0, output[-3000:]
        assert "reattaching to it instead of starting another" in output, output[-3000:]
        assert emulator.create_calls() == 1, f"a duplicate execution was created: {final}"
        assert final == {first_id: "SUCCESS"}, final
        record(
            "crash recovery",
            **{
                f"worker_kill_reattach_by_tags_airflow_{airflow.__version__}": (
                    f"retry found {first_id} by its tags; createExecutionCalls 1; final SUCCESS"
                )
            },
        )
    finally:
        emulator.stop()
