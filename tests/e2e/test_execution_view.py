"""The OOS execution view in the task instance page: opened from the UI for a succeeded and a
failed execution (screenshots), and refused without a login (401)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from scripts.deploy.config import ALL_INSTANCES, State
from tests.e2e.airflow_ui import task_url, trigger_rest, wait_for_runs
from tests.e2e.conftest import Rest, Shots

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MISSING_INSTANCE = "i-e2e-view-missing"
VIEW_TAB = "OOS Execution Details"


def _execution_id(rest: Rest, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/execution_id"
    answer = rest("GET", path, params={"map_index": map_index, "deserialize": True})
    value = answer["value"]
    return str(value).strip('"')


def _open_view(page: Any, url: str, until: str) -> Any:
    """The task instance page, then its "OOS Execution" tab; returns the view's frame."""
    page.goto(url)
    page.get_by_role("tab", name=VIEW_TAB).or_(page.get_by_role("link", name=VIEW_TAB)).first.click()
    frame = page.frame_locator(f"iframe[title='{VIEW_TAB}']")
    frame.get_by_text(until).first.wait_for(timeout=60_000)
    return frame


def test_view_of_a_succeeded_execution(rest: Rest, page: Any, deployment: State, shot: Shots) -> None:
    rest.emulator("POST", "instances", {"instanceIds": ALL_INSTANCES, "status": "Running"})
    dag_id, task_id = "example_oos_maintenance_window", "maintenance_window"
    run_id = trigger_rest(rest, dag_id)
    assert wait_for_runs(rest, {dag_id: run_id})[dag_id] == "success"
    execution_id = _execution_id(rest, dag_id, run_id, task_id)
    frame = _open_view(
        page, task_url(deployment.api_url, dag_id, run_id, task_id), f"OOS execution {execution_id}"
    )
    shot(page, "succeeded-view")
    text = frame.locator("body").inner_text()
    assert "SUCCESS" in text
    for step in ("stop_instances", "maintenance", "start_instances"):
        assert step in text, step
    assert "BCE::Agent::ExecuteShell" in text and "Outputs" in text
    assert "emulator-sk" not in text


def test_view_of_a_failed_execution(rest: Rest, page: Any, deployment: State, shot: Shots) -> None:
    dag_id, task_id = "example_oos_mapped_batches", "restart_batch"
    run_id = trigger_rest(rest, dag_id, {"instance_ids": [MISSING_INSTANCE], "batch_size": 1})
    assert wait_for_runs(rest, {dag_id: run_id})[dag_id] == "failed"
    execution_id = _execution_id(rest, dag_id, run_id, task_id, map_index=0)
    url = task_url(deployment.api_url, dag_id, run_id, task_id, map_index=0)
    frame = _open_view(page, url, f"OOS execution {execution_id}")
    shot(page, "failed-view")
    text = frame.locator("body").inner_text()
    # The step is no loop here (tests/plugins cover the failing loop iteration).
    failing_row = frame.locator("tr.failing").inner_text()
    assert "reboot" in failing_row and "BCE::BCC::RebootInstance" in failing_row and "FAILED" in failing_row
    assert "Instance.NotFound" in failing_row and MISSING_INSTANCE in failing_row  # errorCode, log tail
    assert "UPSTREAM_FAILED" in text


def test_view_without_login_is_refused(browser: Any, deployment: State, rest: Rest) -> None:
    context = browser.new_context()
    try:
        answer = context.request.get(f"{deployment.api_url}/oos/execution/any_dag/any_run/any_task/-1")
        assert answer.status == 401
    finally:
        context.close()
