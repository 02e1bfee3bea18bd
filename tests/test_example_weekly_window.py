"""example_oos_weekly_window runs to success with `airflow dags test` against the emulator.

Preflight, a deferrable wait until the window opens (shortened through the environment), the
guarded start, and a person pausing the execution mid-run: the on-call is paged exactly once
(from the worker, after the trigger's event), the wait defers again and the run succeeds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle, start_emulator

from tests.support.dag_runner import EXAMPLE_DAGS, DagTestProcess

pytestmark = pytest.mark.timeout(600)

DAG_ID = "example_oos_weekly_window"
INSTANCES = ["i-weekly-1", "i-weekly-2"]
# The maintenance step lasts ~5 s at this time scale: long enough to pause it mid-run.
SCRIPT = "#!/bin/bash\necho 'weekly window'\n# emulator: sleep 10\n"


def _dag() -> Any:
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def test_weekly_window_example_is_documented_and_guarded() -> None:
    dag = _dag()
    assert set(dag.tags) == {"oos", "example", "maintenance", "window"}
    assert set(dag.params) == {"instance_ids", "maintenance_script"}
    assert dag.catchup is False and "What to edit" in (dag.doc_md or "")
    assert [t.task_id for t in dag.topological_sort()][-3:] == ["preflight", "wait_for_window", "maintenance"]
    maintenance = dag.get_task("maintenance")
    assert maintenance.deferrable is True and maintenance.reattach is True
    assert maintenance.start_window.enabled and maintenance.on_pause_callback
    assert dag.get_task("preflight").task_type == "OosPreflightOperator"


def pause_during_maintenance(emulator: EmulatorHandle, hold: float) -> threading.Thread:
    """A person pauses the execution while its maintenance step runs, and resumes it later."""

    def run() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            running = [e for e in emulator.executions() if e["tasks"].get("maintenance") == "RUNNING"]
            if running:
                emulator.admin("POST", f"executions/{running[0]['id']}/pause")
                time.sleep(hold)
                emulator.admin("POST", f"executions/{running[0]['id']}/resume")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_weekly_window_example_runs_to_success_and_pages_once_on_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OOS_EXAMPLE_WINDOW_OPENS_SECONDS", "3")
    emulator = start_emulator(time_scale=0.5, instances=INSTANCES)
    try:
        person = pause_during_maintenance(emulator, hold=4)
        run = DagTestProcess(
            DAG_ID,
            conn_json=emulator.conn_json,
            workdir=tmp_path / DAG_ID,
            conf={"maintenance_script": SCRIPT},
            poll_seconds=0.5,
        ).wait()
        person.join(timeout=30)
        assert run.succeeded, run.explain()
        (execution,) = emulator.executions()
        assert execution["state"] == "SUCCESS", execution
        assert emulator.create_calls() == 1
        output = run.output
        assert "Preflight of inline template 'airflow-example-weekly-window' passed" in output, run.explain()
        assert "Inside the maintenance window" in output, run.explain()
        pages = [line for line in output.splitlines() if "PAGE on-call: OOS maintenance paused" in line]
        assert len(pages) == 1, run.explain()
        assert execution["id"] in pages[0]
        assert emulator.instance_states() == dict.fromkeys(INSTANCES, "Running")
    finally:
        emulator.stop()
