"""OosExecutionSensor against the emulator: poke, reschedule-style pokes and deferrable mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosNotFoundError,
)
from airflow_provider_oos.sensors.oos import (
    OosExecutionSensor,
    OosSensorExecutionFailedError,
    OosSensorTimeoutError,
)
from airflow_provider_oos.triggers.oos import OosExecutionTrigger
from tests.support.oos_server import Reply, ScriptedOosServer
from tests.support.oos_task_helpers import (
    TaskDeferred,
    approve_when_paused,
    run_trigger,
    shell,
    task_context,
    template,
    wait_for_state,
)

try:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException, AirflowSkipException  # type: ignore[no-redef]


def start(*lines: str, manually: bool = False) -> str:
    """Start an execution the way a fire-and-forget task would, and return its id."""
    from airflow_provider_oos.hooks.oos import OosHook

    work = {**shell("work", *lines), **({"manually": True} if manually else {})}
    return OosHook().create_execution(template("sensed", shell("prepare"), work))


def sensor(execution_id: str, **kwargs: Any) -> OosExecutionSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    return OosExecutionSensor(task_id="wait", execution_id=execution_id, **kwargs)


def test_poke_mode_success_returns_summary(emulator: EmulatorHandle) -> None:
    execution_id = start("# emulator: output ROWS=42", "# emulator: sleep 5")
    context = task_context()
    summary = sensor(execution_id).execute(context)
    assert summary["execution_id"] == execution_id and summary["state"] == "SUCCESS"
    assert summary["tasks"]["work"]["outputs"]["ROWS"] == "42"
    assert context["ti"].xcoms["console_url"] == summary["console_url"]


def test_single_poke_is_not_done_while_running(emulator: EmulatorHandle) -> None:
    """What each reschedule-mode try does: one look, then give the slot back."""
    execution_id = start("# emulator: sleep 100")
    result = sensor(execution_id, mode="reschedule").poke(task_context())
    assert not result.is_done and result.xcom_value is None


def test_failure_fails_without_retries_and_names_the_reason(emulator: EmulatorHandle) -> None:
    execution_id = start("# emulator: exit 7")
    with pytest.raises(OosSensorExecutionFailedError) as failed:
        sensor(execution_id, retries=3).execute(task_context())
    assert isinstance(failed.value, AirflowFailException)  # Airflow does not retry it
    assert isinstance(failed.value, OosExecutionFailedError)
    assert execution_id in str(failed.value) and "'work'" in str(failed.value) and "7" in str(failed.value)


def test_failure_with_soft_fail_skips(emulator: EmulatorHandle) -> None:
    execution_id = start("# emulator: exit 7")
    with pytest.raises(AirflowSkipException):
        sensor(execution_id, soft_fail=True).execute(task_context())
    with pytest.raises(AirflowSkipException):
        sensor(execution_id, soft_fail=True, deferrable=True).execute(task_context())


def test_paused_wait_and_fail(emulator: EmulatorHandle) -> None:
    execution_id = start(manually=True)
    with pytest.raises(OosExecutionPausedError):
        wait_for_state(emulator, execution_id, {"PAUSED"})
        sensor(execution_id, on_paused="fail").execute(task_context())
    approver = approve_when_paused(emulator, after=0.2)
    assert sensor(execution_id, on_paused="wait").execute(task_context())["state"] == "SUCCESS"
    approver.join()


def test_deferrable_success_via_trigger(emulator: EmulatorHandle) -> None:
    execution_id = start("# emulator: sleep 50", "# emulator: output K=v")  # running at the first look
    context = task_context()
    op = sensor(execution_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, OosExecutionTrigger) and trigger.poll_interval == 0.05
    assert trigger.deadline is not None
    events = asyncio.run(run_trigger(trigger))
    summary = op.execute_complete(context, events[0])
    assert summary["state"] == "SUCCESS" and summary["tasks"]["work"]["outputs"]["K"] == "v"


def test_deferrable_already_final_does_not_defer(emulator: EmulatorHandle) -> None:
    execution_id = start()
    wait_for_state(emulator, execution_id, {"SUCCESS"})
    summary = sensor(execution_id, deferrable=True).execute(task_context())  # no TaskDeferred
    assert summary["state"] == "SUCCESS"


def test_deferrable_failure_and_timeout(emulator: EmulatorHandle) -> None:
    failing = start("# emulator: sleep 50", "# emulator: exit 4")
    context = task_context()
    op = sensor(failing, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    event = asyncio.run(run_trigger(deferred.value.trigger))[0]
    with pytest.raises(OosSensorExecutionFailedError, match="4"):
        op.execute_complete(context, event)

    slow = start("# emulator: sleep 100")
    op = sensor(slow, deferrable=True, timeout=0.3)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    event = asyncio.run(run_trigger(deferred.value.trigger))[0]
    assert event["status"] == "timeout"
    with pytest.raises(OosSensorTimeoutError, match="last known state: RUNNING"):
        op.execute_complete(context, event)


def test_templated_execution_id_is_checked(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="execution_id must be a non-empty"):
        sensor("  ").execute(task_context())
    with pytest.raises(ValueError, match="on_paused"):
        sensor("d-1", on_paused="later")


def test_transient_api_error_is_not_done_yet_a_permanent_one_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sensor drives the same state machine: a 503 (after the hook's own retries) means "look
    again later", five in a row or a 404 end the wait with the API's error."""
    done = {
        "id": "d-1",
        "state": "SUCCESS",
        "tasks": [{"id": "t", "state": "SUCCESS", "operator": {"name": "a"}}],
    }
    busy = Reply.bce_error(503, "ServiceUnavailable", "busy")
    with ScriptedOosServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(max_retries=0))
        server.script(
            "GET", "/v2/execution", busy, Reply.ok(done), *[busy] * 5, Reply.bce_error(404, "NoSuchExecution")
        )
        context = task_context()
        poking = sensor("d-1")
        assert poking.poke(context).is_done is False
        assert "Could not read OOS execution d-1" in capsys.readouterr().out
        assert poking.poke(context).xcom_value["state"] == "SUCCESS"
        stubborn = sensor("d-1")
        assert [stubborn.poke(context).is_done for _ in range(4)] == [False] * 4
        with pytest.raises(OosApiError, match="503"):
            stubborn.poke(context)
        with pytest.raises(OosNotFoundError):
            sensor("d-1").poke(context)
