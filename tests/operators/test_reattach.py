"""Reattach on retry: which earlier execution a retry picks up, by the Airflow tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.exceptions import OosNotFoundError
from airflow_provider_oos.rules.reattach import (
    CLOCK_SKEW_MS,
    CREATE,
    RETURN,
    WAIT,
    choose,
    find_earlier_try,
    task_instance_tags,
)


class TI:
    dag_id, run_id, task_id = "maint", "scheduled__2026-01-04", "stop"

    def __init__(self, map_index: int = -1) -> None:
        self.map_index = map_index


MINE = task_instance_tags(TI())


def execution(execution_id: str, state: str, created: int, **tag_overrides: str | None) -> Execution:
    tags = {**MINE, **tag_overrides}
    return Execution.model_validate(
        {
            "id": execution_id,
            "state": state,
            "createdTimestamp": created,
            "tags": [{"tagKey": k, "tagValue": v} for k, v in tags.items() if v is not None]
            + [{"tagKey": "purpose", "tagValue": "maintenance"}],
        }
    )


# ---- pure choice -------------------------------------------------------------------------------


def test_task_instance_tags() -> None:
    assert MINE == {"airflow-dag": "maint", "airflow-run": "scheduled__2026-01-04", "airflow-task": "stop"}
    assert task_instance_tags(TI(map_index=3))["airflow-map-index"] == "3"


def test_nothing_found_creates() -> None:
    assert choose([], MINE).action == CREATE


def test_a_running_execution_of_an_earlier_try_is_waited_on() -> None:
    decision = choose([execution("d-1", "RUNNING", 10)], MINE)
    assert decision.action == WAIT and decision.execution is not None and decision.execution.id == "d-1"
    assert "reattaching to it instead of starting another" in decision.message


def test_paused_pending_and_unknown_states_are_waited_on() -> None:
    for state in ("PAUSED", "PENDING", "ROLLBACK", "SOMETHING_NEW"):
        assert choose([execution("d-1", state, 10)], MINE).action == WAIT


def test_a_succeeded_execution_is_returned() -> None:
    decision = choose([execution("d-1", "SUCCESS", 10)], MINE)
    assert decision.action == RETURN
    assert "returning its result" in decision.message


def test_a_failed_execution_means_a_new_one() -> None:
    for state in ("FAILED", "CANCELED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"):
        decision = choose([execution("d-1", state, 10)], MINE)
        assert decision.action == CREATE and decision.execution is not None


def test_the_newest_execution_of_the_same_task_instance_decides() -> None:
    found = [
        execution("d-first-try", "FAILED", 10),
        execution("d-second-try", "RUNNING", 20),
        execution("d-other-task", "RUNNING", 30, **{"airflow-task": "start"}),
        execution("d-other-run", "RUNNING", 40, **{"airflow-run": "manual__x"}),
        execution("d-mapped", "RUNNING", 50, **{"airflow-map-index": "0"}),
        execution("d-other-dag", "SUCCESS", 60, **{"airflow-dag": "other"}),
    ]
    decision = choose(found, MINE)
    assert decision.action == WAIT
    assert decision.execution is not None and decision.execution.id == "d-second-try"
    assert "(newest of 2)" in decision.message


def test_a_mapped_task_instance_matches_only_its_own_index() -> None:
    mapped = task_instance_tags(TI(map_index=1))
    found = [
        execution("d-0", "RUNNING", 10, **{"airflow-map-index": "0"}),
        execution("d-1", "SUCCESS", 5, **{"airflow-map-index": "1"}),
        execution("d-unmapped", "RUNNING", 20),
    ]
    decision = choose(found, mapped)
    assert decision.action == RETURN and decision.execution is not None and decision.execution.id == "d-1"


def test_executions_without_tags_are_ignored() -> None:
    bare = Execution.model_validate({"id": "d-x", "state": "RUNNING"})
    assert choose([bare], MINE).action == CREATE


# ---- the list call -----------------------------------------------------------------------------


class Lister:
    def __init__(self, executions: list[Execution], error: Exception | None = None) -> None:
        self.executions = executions
        self.error = error
        self.filters: list[dict[str, Any]] = []

    def iter_executions(self, **filters: Any) -> Iterator[Execution]:
        self.filters.append(filters)
        if self.error is not None:
            raise self.error
        yield from self.executions


def test_find_earlier_try_filters_by_template_and_the_run_start() -> None:
    lister = Lister([execution("d-1", "RUNNING", 10)])
    decision = find_earlier_try(
        lister, MINE, template_name="fleet", since_ms=1_000_000_000, now_ms=2_000_000_000
    )
    assert decision.action == WAIT
    assert lister.filters == [{"template_name": "fleet", "start_time": 1_000_000_000 - CLOCK_SKEW_MS}]


def test_find_earlier_try_without_a_template_name_or_run_start() -> None:
    lister = Lister([])
    find_earlier_try(lister, MINE, template_name=None, since_ms=None, now_ms=10_000_000_000)
    (filters,) = lister.filters
    assert set(filters) == {"start_time"} and filters["start_time"] < 10_000_000_000


def test_an_endpoint_without_the_list_call_creates_and_says_why() -> None:
    lister = Lister([], OosNotFoundError("POST /v2/execution/list: not available on this endpoint"))
    decision = find_earlier_try(lister, MINE, template_name="fleet", since_ms=None, now_ms=10**12)
    assert decision.action == CREATE
    assert "needs the list-executions call" in decision.message and "base_path" in decision.message


# ---- the operator, against the emulator -----------------------------------------------------------

POLL = 0.05
LONG = {
    "name": "reattach-work",
    "operators": [
        {
            "name": "work",
            "operator": "BCE::Agent::ExecuteShell",
            "properties": {"content": "# emulator: sleep 50"},
        }
    ],
}
FAILING = {
    "name": "reattach-work",
    "operators": [
        {
            "name": "work",
            "operator": "BCE::Agent::ExecuteShell",
            "properties": {"content": "# emulator: exit 3"},
        }
    ],
}


def retry_of(task_id: str, try_number: int = 2) -> dict[str, Any]:
    from tests.support.oos_task_helpers import task_context

    return task_context(task_id=task_id, try_number=try_number)


def earlier_try(context: dict[str, Any], template: dict[str, Any]) -> str:
    """What try 1 left behind: an execution tagged with this task instance."""
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook().create_execution(template, tags=task_instance_tags(context["ti"]))


def operator(task_id: str, **kwargs: Any) -> Any:
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    kwargs.setdefault("template", LONG)
    return OosCreateExecutionOperator(task_id=task_id, poll_interval=POLL, **kwargs)


def test_a_retry_waits_on_the_running_execution_of_the_earlier_try(emulator: Any) -> None:
    context = retry_of("running")
    first = earlier_try(context, LONG)
    summary = operator("running").execute(context)
    assert summary["execution_id"] == first and summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1
    assert context["ti"].xcoms["execution_id"] == first  # the link points at the reattached one


def test_a_retry_returns_the_result_of_a_succeeded_earlier_try(emulator: Any) -> None:
    from tests.support.oos_task_helpers import wait_for_state

    context = retry_of("succeeded")
    first = earlier_try(context, LONG)
    wait_for_state(emulator, first, {"SUCCESS"})
    gets_before = emulator.admin("GET", "stats")["requests"].get("GET /api/logic/oos/v2/execution", 0)
    summary = operator("succeeded").execute(context)
    assert summary["execution_id"] == first and summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1
    gets = emulator.admin("GET", "stats")["requests"].get("GET /api/logic/oos/v2/execution", 0) - gets_before
    assert gets == 1  # one look, no waiting


def test_a_retry_after_a_failed_execution_starts_a_new_one(emulator: Any) -> None:
    from tests.support.oos_task_helpers import wait_for_state

    context = retry_of("failed")
    first = earlier_try(context, FAILING)
    wait_for_state(emulator, first, {"FAILED"})
    summary = operator("failed").execute(context)
    assert summary["execution_id"] != first and summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 2


def test_reattach_can_be_turned_off(emulator: Any) -> None:
    context = retry_of("off")
    first = earlier_try(context, LONG)
    summary = operator("off", reattach=False).execute(context)
    assert summary["execution_id"] != first
    assert emulator.create_calls() == 2
    requests = emulator.admin("GET", "stats")["requests"]
    assert not any(key.endswith("/v2/execution/list") for key in requests)


def test_another_task_instance_is_not_reattached(emulator: Any) -> None:
    context = retry_of("mine")
    earlier_try(retry_of("someone_else"), LONG)
    summary = operator("mine").execute(context)
    assert emulator.create_calls() == 2
    assert summary["state"] == "SUCCESS"


def test_a_retry_of_a_deferred_try_defers_again_on_the_same_execution(emulator: Any) -> None:
    import asyncio

    from airflow_provider_oos.triggers.oos import OosExecutionTrigger
    from tests.support.oos_task_helpers import TaskDeferred, run_trigger

    # Try 1 created its execution and deferred; its trigger was lost (e.g. the task was failed by
    # an error event); try 2 must find the execution and defer on it again, creating nothing.
    first_context = retry_of("deferred", try_number=1)
    with pytest.raises(TaskDeferred) as first:
        operator("deferred", deferrable=True).execute(first_context)
    first_id = first.value.trigger.execution_id

    context = retry_of("deferred", try_number=2)
    op = operator("deferred", deferrable=True)
    with pytest.raises(TaskDeferred) as again:
        op.execute(context)
    assert again.value.trigger.execution_id == first_id
    (event,) = asyncio.run(run_trigger(OosExecutionTrigger(**again.value.trigger.serialize()[1])))
    summary = op.execute_complete(context, event)
    assert summary["execution_id"] == first_id and summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1


def test_an_endpoint_without_the_list_call_creates_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gateway without list-executions (404): reattach says why and the run goes on."""
    from tests.support.oos_server import Reply, ScriptedOosServer

    with ScriptedOosServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(max_retries=0))
        server.script("POST", "/v2/execution/list", Reply(status=404, body=b"404 page not found"))
        server.script("POST", "/v2/execution", Reply.ok({"id": "d-new"}))
        server.script("GET", "/v2/execution", Reply.ok({"id": "d-new", "state": "SUCCESS", "tasks": []}))
        summary = operator("no_list").execute(retry_of("no_list"))
        creates = server.calls("POST", "/v2/execution")
    assert summary["execution_id"] == "d-new" and len(creates) == 1
    assert "reattach needs the list-executions call" in capsys.readouterr().out


def test_without_airflow_tags_there_is_nothing_to_look_for(emulator: Any) -> None:
    context = retry_of("untagged")
    earlier_try(context, LONG)
    operator("untagged", tag_with_airflow_context=False).execute(context)
    assert emulator.create_calls() == 2
    requests = emulator.admin("GET", "stats")["requests"]
    assert not any(key.endswith("/v2/execution/list") for key in requests)
