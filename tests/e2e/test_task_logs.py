"""In the real deployment, a finished task's log (read through the REST API) shows the provider's
progress lines and no line per poll: neither in the triggerer's wait (deferrable) nor in a worker's
(the mapped batches poll in the worker)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from scripts.deploy.config import ALL_INSTANCES, EXAMPLE_POLL_SECONDS
from tests.e2e.airflow_ui import task_states, trigger_rest, wait_for_runs
from tests.e2e.conftest import Rest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# The per-call line of transport.log_call, as an answered call writes it (DEBUG: not in the log).
PER_CALL_LINE = re.compile(r"OOS (GET|POST) \S+ -> \d{3} \(request id ")
READS = "GET /api/logic/oos/v2/execution"
# 40 emulator seconds = 20 s at the deployment's time scale (0.5): ten polls of 2 s.
LONG_SCRIPT = "#!/bin/bash\nset -euo pipefail\necho 'e2e: a long maintenance'\n# emulator: sleep 40\n"
MIN_POLLS = 8


def _reads(rest: Rest) -> int:
    return int(rest.emulator("GET", "stats")["requests"].get(READS, 0))


def task_log(rest: Rest, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The whole log of the task's last try, as the REST API gives it, one line per entry."""
    run = quote(run_id, safe="")
    ti_path = f"dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}" + (
        f"/{map_index}" if map_index >= 0 else ""
    )
    try_number = rest("GET", ti_path)["try_number"]
    params: dict[str, Any] = {"full_content": "true"}
    if map_index >= 0:
        params["map_index"] = map_index
    answer = rest(
        "GET", f"dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/logs/{try_number}", params=params
    )
    lines = []
    for entry in answer["content"]:
        if isinstance(entry, dict):
            lines.append(f"[{entry.get('level', '')}] {entry.get('event', '')}")
        else:
            lines.append(str(entry))
    return "\n".join(lines)


def _execution_ids(log: str) -> set[str]:
    return set(re.findall(r"Created OOS execution (d-[\w-]+)\.", log))


def assert_progress_without_polls(log: str) -> str:
    """The log's one execution: created, its running step and success logged, no per-call line."""
    ids = _execution_ids(log)
    assert len(ids) == 1, f"not one 'Created OOS execution' line:\n{log}"
    execution_id = ids.pop()
    assert not PER_CALL_LINE.search(log), f"a per-call line in the task log:\n{log}"
    assert log.count(f"OOS execution {execution_id} is SUCCESS.") == 1, log
    assert "running step '" in log, log
    lines = [line for line in log.splitlines() if execution_id in line]
    assert len(lines) < 20, f"{len(lines)} lines name {execution_id}:\n{log}"
    return execution_id


def test_a_long_deferred_wait_logs_progress_and_no_line_per_poll(rest: Rest) -> None:
    rest.emulator("POST", "instances", {"instanceIds": ALL_INSTANCES, "status": "Running"})
    dag_id = "example_oos_maintenance_window"
    before = _reads(rest)
    run_id = trigger_rest(rest, dag_id, {"maintenance_script": LONG_SCRIPT})
    states = wait_for_runs(rest, {dag_id: run_id})
    assert states[dag_id] == "success", task_states(rest, dag_id, run_id)
    polls = _reads(rest) - before
    assert polls >= MIN_POLLS, f"the wait made only {polls} reads (poll every {EXAMPLE_POLL_SECONDS} s)"
    log = task_log(rest, dag_id, run_id, "maintenance_window")
    assert "Deferring" in log, log  # the wait ran in a triggerer
    execution_id = assert_progress_without_polls(log)
    assert f"OOS execution {execution_id}: 3/3 tasks done." in log, log


def test_worker_waits_of_the_mapped_batches_log_no_line_per_poll(rest: Rest) -> None:
    rest.emulator("POST", "instances", {"instanceIds": ALL_INSTANCES, "status": "Running"})
    dag_id = "example_oos_mapped_batches"
    run_id = trigger_rest(rest, dag_id, {"batch_size": 2})
    states = wait_for_runs(rest, {dag_id: run_id})
    assert states[dag_id] == "success", task_states(rest, dag_id, run_id)
    for map_index in range(3):  # five instances, two per batch
        log = task_log(rest, dag_id, run_id, "restart_batch", map_index)
        assert "Deferring" not in log, log  # this wait polls in the worker
        execution_id = assert_progress_without_polls(log)
        assert f"OOS execution {execution_id}: 2/2 tasks done." in log, log
