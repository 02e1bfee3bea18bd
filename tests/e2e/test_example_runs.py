"""Every example DAG, triggered from the UI form and through the REST API, runs to success; its
log shows the provider's progress; the extra link opens the emulator's page of the execution;
a failed execution's message reaches the task log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from scripts.deploy.config import ACCESS_KEY, ALL_INSTANCES, EXAMPLE_INSTANCES, SECRET_KEY, State
from tests.e2e.airflow_ui import (
    open_log,
    task_states,
    task_url,
    trigger_from_form,
    trigger_rest,
    wait_for_runs,
)
from tests.e2e.conftest import Rest, Shots, signed_in_page
from tests.support.dag_runner import OosApi

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# The event-driven example runs on its asset, not by hand (tests/reliability/test_event_watch_restart.py).
EXAMPLES = sorted(set(EXAMPLE_INSTANCES) - {"example_oos_event_driven"})
SCRIPT_FROM_FORM = "#!/bin/bash\nset -euo pipefail\necho 'e2e: first line'\necho 'e2e: second line'\n"
# Tasks a successful run may skip: the template clean-up runs only when asked for.
MAY_SKIP = {"example_oos_template_upsert": {"delete_template"}}
MISSING_INSTANCE = "i-e2e-missing"


def _reset_instances(rest: Rest) -> None:
    """Every example instance running again, whatever an earlier (failed) run left behind."""
    rest.emulator("POST", "instances", {"instanceIds": ALL_INSTANCES, "status": "Running"})


def _assert_succeeded(rest: Rest, dag_id: str, run_id: str, state: str) -> None:
    tasks = task_states(rest, dag_id, run_id)
    assert state == "success", f"{dag_id} run {run_id} is {state}: {tasks}"
    allowed = {"success"} | ({"skipped"} if MAY_SKIP.get(dag_id) else set())
    for task, task_state in tasks.items():
        assert task_state in allowed and (task_state == "success" or task in MAY_SKIP[dag_id]), (task, tasks)


@pytest.fixture(scope="module")
def ui_runs(browser: Any, deployment: State, rest: Rest) -> Iterator[dict[str, tuple[str, dict[str, Any]]]]:
    """Each example triggered from its trigger form (the maintenance script edited as text)."""
    _reset_instances(rest)
    shot = Shots("trigger_from_ui_form")
    runs: dict[str, tuple[str, dict[str, Any]]] = {}
    with signed_in_page(browser, deployment) as page:
        for dag_id in EXAMPLES:
            fields = {"maintenance_script": SCRIPT_FROM_FORM} if dag_id.endswith("maintenance_window") else {}
            runs[dag_id] = trigger_from_form(page, deployment.api_url, dag_id, fields)
            shot(page, f"{dag_id}-triggered")
    yield runs


@pytest.fixture(scope="module")
def ui_states(ui_runs: dict[str, tuple[str, dict[str, Any]]], rest: Rest) -> dict[str, str]:
    return wait_for_runs(rest, {dag_id: run_id for dag_id, (run_id, _) in ui_runs.items()})


@pytest.fixture(scope="module")
def rest_runs(ui_states: dict[str, str], rest: Rest) -> tuple[dict[str, str], dict[str, str]]:
    """Each example through the REST API with no logical date, after the UI's runs are done."""
    _reset_instances(rest)
    conf = {"example_oos_template_upsert": {"delete_template": True}}
    runs = {dag_id: trigger_rest(rest, dag_id, conf.get(dag_id)) for dag_id in EXAMPLES}
    return runs, wait_for_runs(rest, runs)


@pytest.mark.parametrize("dag_id", EXAMPLES)
def test_example_triggered_from_the_ui_form_succeeds(
    dag_id: str,
    ui_runs: dict[str, tuple[str, dict[str, Any]]],
    ui_states: dict[str, str],
    rest: Rest,
    page: Any,
    deployment: State,
    shot: Shots,
) -> None:
    run_id, _ = ui_runs[dag_id]
    page.goto(f"{deployment.api_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}")
    page.get_by_text(run_id).first.wait_for()
    shot(page, "run")
    _assert_succeeded(rest, dag_id, run_id, ui_states[dag_id])


@pytest.mark.parametrize("dag_id", EXAMPLES)
def test_example_triggered_through_rest_without_logical_date_succeeds(
    dag_id: str, rest_runs: tuple[dict[str, str], dict[str, str]], rest: Rest
) -> None:
    runs, states = rest_runs
    run = rest("GET", f"dags/{dag_id}/dagRuns/{quote(runs[dag_id], safe='')}")
    assert run["logical_date"] is None
    _assert_succeeded(rest, dag_id, runs[dag_id], states[dag_id])


def test_multiline_script_from_the_form_reaches_oos_line_by_line(
    ui_runs: dict[str, tuple[str, dict[str, Any]]], ui_states: dict[str, str], rest: Rest, deployment: State
) -> None:
    dag_id = "example_oos_maintenance_window"
    run_id, conf = ui_runs[dag_id]
    assert conf["maintenance_script"] == SCRIPT_FROM_FORM
    task = f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/maintenance_window"
    execution_id = rest("GET", f"{task}/xcomEntries/execution_id")["value"]
    oos = OosApi(deployment.emulator_url, ACCESS_KEY, SECRET_KEY)
    answer = oos.call("GET", "/v2/execution", params={"id": str(execution_id).strip('"')})
    steps = {step["name"]: step for step in answer.json()["result"]["template"]["operators"]}
    assert steps["maintenance"]["properties"]["content"] == SCRIPT_FROM_FORM


def test_task_log_shows_progress_lines(
    ui_runs: dict[str, tuple[str, dict[str, Any]]],
    ui_states: dict[str, str],
    page: Any,
    deployment: State,
    shot: Shots,
) -> None:
    run_id, _ = ui_runs["example_oos_maintenance_window"]
    url = task_url(deployment.api_url, "example_oos_maintenance_window", run_id, "maintenance_window")
    log = open_log(page, url, "is SUCCESS")
    shot(page, "log")
    assert "Created OOS execution" in log
    assert "Deferring" in log  # the wait ran in a triggerer
    assert "running step '" in log  # the step in progress, by name and action
    assert "3/3 tasks done" in log


def test_extra_link_opens_the_emulator_page_of_the_execution(
    ui_runs: dict[str, tuple[str, dict[str, Any]]],
    ui_states: dict[str, str],
    page: Any,
    deployment: State,
    shot: Shots,
) -> None:
    run_id, _ = ui_runs["example_oos_maintenance_window"]
    url = task_url(deployment.api_url, "example_oos_maintenance_window", run_id, "maintenance_window")
    page.goto(url + "/details")
    page.get_by_text("Extra Links").wait_for()
    link = page.get_by_text("OOS Execution", exact=True)
    link.wait_for()
    shot(page, "details")
    with page.context.expect_page() as opened:
        link.click()
    console = opened.value
    console.wait_for_load_state()
    prefix = deployment.console_url.split("{execution_id}")[0]
    assert console.url.startswith(prefix), console.url
    execution_id = console.url[len(prefix) :].split("?")[0]
    text = console.inner_text("body")
    shot(console, "emulator-page")
    assert execution_id in text
    for step in ("stop_instances", "maintenance", "start_instances"):
        assert step in text, step
    assert "SUCCESS" in text


def test_failed_execution_message_reaches_the_task_log(
    rest: Rest, page: Any, deployment: State, shot: Shots
) -> None:
    dag_id = "example_oos_mapped_batches"
    run_id = trigger_rest(rest, dag_id, {"instance_ids": [MISSING_INSTANCE], "batch_size": 1})
    state = wait_for_runs(rest, {dag_id: run_id})[dag_id]
    assert state == "failed"
    assert task_states(rest, dag_id, run_id)["restart_batch[0]"] == "failed"
    url = task_url(deployment.api_url, dag_id, run_id, "restart_batch", map_index=0)
    log = open_log(page, url, f"not found: {MISSING_INSTANCE}")
    shot(page, "failed-log")
    assert "OosExecutionFailedError" in log
    assert "FAILED" in log
    assert "'reboot'" in log  # the failing OOS step is named, with its reason (waited for above)
    assert f"{deployment.emulator_url}/console/execution/" in log  # and where to look
