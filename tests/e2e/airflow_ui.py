"""What a person does in the Airflow 3 UI, as Playwright steps; and waiting on runs through REST."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

FINAL_RUN_STATES = {"success", "failed"}


def trigger_from_form(
    page: Any, base_url: str, dag_id: str, fields: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Open the DAG, press Trigger, edit `fields` (Param name -> text) and trigger.

    Returns the run id and the conf the form posted.
    """
    page.goto(f"{base_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    for name, text in (fields or {}).items():
        dialog.locator(f"#element_{name}").fill(text)
    with page.expect_response(lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST") as answer:
        dialog.get_by_role("button", name="Trigger").click()
    response = answer.value
    assert response.ok, f"trigger of {dag_id} answered {response.status}: {response.text()}"
    run_id: str = response.json()["dag_run_id"]
    conf: dict[str, Any] = json.loads(response.request.post_data)["conf"]
    return run_id, conf


def trigger_rest(rest: Any, dag_id: str, conf: dict[str, Any] | None = None) -> str:
    """POST a run with no logical date (Airflow 3's default for API-triggered runs)."""
    run = rest("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
    assert run["logical_date"] is None
    run_id: str = run["dag_run_id"]
    return run_id


def wait_for_runs(rest: Any, runs: dict[str, str], timeout: float = 600) -> dict[str, str]:
    """Wait until every (dag_id -> run_id) run is final; return dag_id -> state."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while True:
        for dag_id, run_id in runs.items():
            if states.get(dag_id) not in FINAL_RUN_STATES:
                states[dag_id] = rest("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]
        if all(state in FINAL_RUN_STATES for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(2)


def task_states(rest: Any, dag_id: str, run_id: str) -> dict[str, str]:
    """`task_id[map_index]` -> state of every task instance of the run."""
    answer = rest("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
    return {
        f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]: ti["state"]
        for ti in answer["task_instances"]
    }


def task_url(base_url: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    url = f"{base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}"
    return url if map_index < 0 else f"{url}/mapped/{map_index}"


def open_log(page: Any, url: str, until: str) -> str:
    """Open a task instance's log tab and wait until `until` is shown; return the visible log text."""
    page.goto(url)
    page.get_by_text(until).first.wait_for()
    text: str = page.inner_text("body")
    return text
