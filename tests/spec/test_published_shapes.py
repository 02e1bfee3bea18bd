"""Answers in each published shape drive the sensor, the operator and the trigger to the right outcome.

A recording server (real HTTP) answers in one shape of `shapes`: the seed example, the older
docs/SDKs, or the current OpenAPI metadata; seed and older under `/api/logic/oos` (where the
OpenAPI-only calls answer 404), current with no base path. Each execution is RUNNING at the first
read, then SUCCESS or FAILED. SUCCESS must give the summary; FAILED must give a failure naming the
step, its reason and the log tail, read with ONE `withLog=true` request after polls without it
(plus errorCode and the failing loop iteration where the shape has them).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_oos.exceptions import OosExecutionFailedError
from tests.spec import conformance, shapes
from tests.spec.spec_server import SpecServer
from tests.support.oos_task_helpers import FAST_RETRY_EXTRAS, run_trigger, shell, task_context, template

BASE_PATHS = {"seed": "/api/logic/oos", "older": "/api/logic/oos", "current": ""}
CASES = [(shape, outcome) for shape in shapes.SHAPES for outcome in ("SUCCESS", "FAILED")]
CASE_IDS = [f"{shape}-{outcome}" for shape, outcome in CASES]
POLL = 0.01

Serve = Callable[[str, str], SpecServer]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Start a server for (shape, outcome) and point `oos_default` at it."""
    started: list[SpecServer] = []

    def start(shape: str, outcome: str) -> SpecServer:
        base = BASE_PATHS[shape]
        server = SpecServer(base, shape=shape, outcome=outcome, running_polls=1, only_published_style=True)
        server.__enter__()
        started.append(server)
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(**FAST_RETRY_EXTRAS))
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


# -- the shapes themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["RUNNING", "SUCCESS", "FAILED"])
@pytest.mark.parametrize("with_log", [False, True])
@pytest.mark.parametrize("shape", ["seed", "current"])
def test_seed_and_current_shapes_are_published_answers(shape: str, state: str, with_log: bool) -> None:
    """The fixtures are what the spec says (the older shape differs on purpose: key/value tags)."""
    answer = shapes.execution(shape, "d-1", state, with_log=with_log, tags=[("team", "ops")])
    assert conformance.check_result("get_execution", answer) == []
    assert conformance.log_problems(answer, with_log=with_log) == []


def test_seed_shape_is_the_seed_example() -> None:
    seed = shapes.seed_answer()
    assert shapes.execution("seed", seed["result"]["id"], "SUCCESS") == seed["result"]
    assert conformance.check_result("get_execution", seed["result"], strict=True) == []


def test_older_shape_differs_from_the_current_spec_only_in_its_tags() -> None:
    answer = shapes.execution("older", "d-1", "FAILED", tags=[("team", "ops")])
    problems = conformance.check_result("get_execution", answer)
    assert problems and all("result.tags[0]" in problem for problem in problems)


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_hook_reads_each_shape(serve: Serve, shape: str) -> None:
    from airflow_provider_oos.hooks.oos import OosHook

    server = serve(shape, "FAILED")
    hook = OosHook()
    execution_id = hook.create_execution(template("shaped", shell("work")), tags={"team": "ops"})
    hook.get_execution(execution_id)  # RUNNING
    execution = hook.get_execution(execution_id, with_log=True)
    assert execution.state == "FAILED" and execution.tag_map()["team"] == "ops"
    failed = execution.tasks[0]
    assert failed.name == shapes.FAILED_STEP and failed.reason == shapes.STEP_REASON
    assert failed.log and isinstance(failed.log[-1].timestamp, str)
    if shape == "current":
        assert failed.error_code == shapes.STEP_ERROR_CODE
        assert [child.loop_index for child in failed.children] == [0, 1, 2]
        assert failed.children[2].reason == shapes.CHILD_REASON
    assert hook.check_template(template("checked", shell("work"))).ok
    assert len(server.op_calls("create_execution")) == 1


# -- what every driver must show -----------------------------------------------------------------


def assert_summary(summary: dict[str, Any], shape: str, execution_id: str) -> None:
    assert summary["execution_id"] == execution_id and summary["state"] == "SUCCESS"
    for step, outputs in shapes.expected_outputs(shape).items():
        assert summary["tasks"][step]["state"] == "SUCCESS"
        assert summary["tasks"][step]["outputs"] == outputs


def assert_failure(message: str, shape: str, execution_id: str) -> None:
    assert execution_id in message and "FAILED" in message
    assert repr(shapes.FAILED_STEP) in message or shapes.FAILED_STEP in message
    assert shapes.STEP_REASON in message, message
    if shape == "current":
        assert shapes.STEP_ERROR_CODE in message, message
        assert shapes.CHILD_INSTANCE in message, message  # the failing loop iteration: its instance
        assert re.search(rf"loop\w*\W{{0,3}}{shapes.CHILD_LOOP_INDEX}\b", message, re.IGNORECASE), message
        assert shapes.STEP_LOG_TAIL in message or shapes.CHILD_LOG_TAIL in message, message
    else:
        assert shapes.STEP_LOG_TAIL in message, message


def assert_reads(server: SpecServer, outcome: str) -> None:
    """Polls without withLog; on failure exactly one withLog read, after the polls."""
    reads = server.op_calls("get_execution")
    flags = [r.query.get("withLog", "false") for r in reads]
    if outcome == "SUCCESS":
        assert set(flags) == {"false"}, flags
    else:
        assert flags.count("true") == 1 and flags[-1] == "true", flags


# -- sensor (poke) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "outcome"), CASES, ids=CASE_IDS)
def test_sensor_poke(serve: Serve, shape: str, outcome: str) -> None:
    from airflow_provider_oos.sensors.oos import OosExecutionSensor, OosSensorExecutionFailedError

    server = serve(shape, outcome)
    sensor = OosExecutionSensor(task_id="wait", execution_id="d-sensed", poke_interval=POLL, timeout=30)
    context = task_context()
    assert sensor.poke(context).is_done is False  # RUNNING
    if outcome == "SUCCESS":
        result = sensor.poke(context)
        assert result.is_done
        assert_summary(result.xcom_value, shape, "d-sensed")
    else:
        with pytest.raises(OosSensorExecutionFailedError) as failed:
            sensor.poke(context)
        assert_failure(str(failed.value), shape, "d-sensed")
    assert_reads(server, outcome)


# -- operator (worker wait) --------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "outcome"), CASES, ids=CASE_IDS)
def test_operator_worker_wait(serve: Serve, shape: str, outcome: str) -> None:
    from airflow_provider_oos.hooks.oos import OosHook
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    server = serve(shape, outcome)
    op = OosCreateExecutionOperator(
        task_id="oos_task",
        template=template("shaped", shell("work")),
        tags={"team": "ops"},
        poll_interval=POLL,
    )
    context = task_context()
    if outcome == "SUCCESS":
        summary = op.execute(context)
        execution_id = summary["execution_id"]
        assert_summary(summary, shape, execution_id)
    else:
        with pytest.raises(OosExecutionFailedError) as failed:
            op.execute(context)
        execution_id = context["ti"].xcoms["execution_id"]
        assert_failure(str(failed.value), shape, execution_id)
    assert_reads(server, outcome)
    # The create is published (tagKey/tagValue) and the Airflow tags come back as tags.
    (create,) = server.op_calls("create_execution")
    assert (
        conformance.check_request("POST", create.path, create.query, create.json, base_path=server.base_path)
        == []
    )
    tags = OosHook().get_execution(execution_id).tag_map()
    assert {"team": "ops", "airflow-dag": "test_dag", "airflow-task": "oos_task"}.items() <= tags.items()


# -- trigger (event loop) ----------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "outcome"), CASES, ids=CASE_IDS)
async def test_trigger_in_an_event_loop(serve: Serve, shape: str, outcome: str) -> None:
    from airflow_provider_oos.sensors.oos import OosExecutionSensor
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger

    server = await asyncio.to_thread(serve, shape, outcome)
    events = await run_trigger(OosExecutionTrigger("d-deferred", poll_interval=POLL), limit=30)
    assert len(events) == 1
    (event,) = events
    assert_reads(server, outcome)
    # The deferred task resumes from the event alone, as after a triggerer hand-over.
    sensor = OosExecutionSensor(task_id="wait", execution_id="d-deferred", timeout=30)
    if outcome == "SUCCESS":
        assert event["status"] == "success" and event["state"] == "SUCCESS"
        assert_summary(sensor.execute_complete(task_context(), event), shape, "d-deferred")
    else:
        assert event["status"] == "failed" and event["state"] == "FAILED"
        assert_failure(event["message"], shape, "d-deferred")
        with pytest.raises(OosExecutionFailedError) as failed:
            sensor.execute_complete(task_context(), event)
        assert_failure(str(failed.value), shape, "d-deferred")
