"""Telling a person from the worker: once per pause, once when the window closes mid-run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.operators.safety import WorkerAttention
from airflow_provider_oos.rules.reporting import describe_pause

UTC = timezone.utc
END = datetime(2026, 1, 4, 6, 0, tzinfo=UTC)
LOG = logging.getLogger("test_pause_notify")


def execution(state: str, manual_step: str | None = None) -> Execution:
    tasks = (
        [{"id": "t1", "state": "PENDING", "operator": {"name": manual_step, "manually": True}}]
        if manual_step
        else []
    )
    return Execution.model_validate({"id": "d-1", "state": state, "tasks": tasks})


class Calls:
    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, context: dict[str, Any]) -> None:
        self.contexts.append(context)

    @property
    def events(self) -> list[str]:
        return [c["oos_event"] for c in self.contexts]


def test_a_pause_notifies_once_with_the_console_link() -> None:
    paused = Calls()
    attention = WorkerAttention(pause_callbacks=(paused,))
    for state in ("RUNNING", "PAUSED", "PAUSED", "PAUSED", "RUNNING", "SUCCESS"):
        attention.observe(execution(state), {"run_id": "r"}, "http://console/d-1", LOG)
    assert paused.events == ["paused"]
    assert paused.contexts[0]["oos_console_url"] == "http://console/d-1"
    assert "d-1 is PAUSED and waits for a person" in paused.contexts[0]["oos_message"]
    assert paused.contexts[0]["run_id"] == "r"


def test_two_pauses_notify_twice() -> None:
    paused = Calls()
    attention = WorkerAttention(pause_callbacks=(paused,))
    for state in ("PAUSED", "RUNNING", "PAUSED"):
        attention.observe(execution(state), {}, None, LOG)
    assert paused.events == ["paused", "paused"]


def test_a_pause_notified_before_a_deferral_is_not_notified_again() -> None:
    paused = Calls()
    before = WorkerAttention(pause_callbacks=(paused,))
    before.observe(execution("PAUSED"), {}, None, LOG)
    kwargs = before.trigger_kwargs()
    assert kwargs == {"stop_on_pause": True, "last_pause_key": "paused"}
    after = WorkerAttention(pause_callbacks=(paused,), last_pause_key=kwargs["last_pause_key"])
    after.observe(execution("PAUSED"), {}, None, LOG)
    assert paused.events == ["paused"]


def test_the_manual_step_is_named() -> None:
    assert "is PAUSED at manual step approve" in describe_pause(execution("PAUSED", "approve"), "http://c")


def test_the_window_closing_mid_run_warns_loudly_once_and_notifies(caplog: pytest.LogCaptureFixture) -> None:
    closed = Calls()
    attention = WorkerAttention(window_closed_callbacks=(closed,), window_end=END)
    with caplog.at_level(logging.WARNING, logger="test_pause_notify"):
        attention.observe(execution("RUNNING"), {}, "http://console/d-1", LOG, now=END - timedelta(minutes=1))
        assert caplog.text == ""
        for minutes in (1, 2, 3):
            attention.observe(
                execution("RUNNING"), {}, "http://console/d-1", LOG, now=END + timedelta(minutes=minutes)
            )
    assert caplog.text.count("MAINTENANCE WINDOW CLOSED") == 1
    assert "http://console/d-1" in caplog.text and "no cancel call" in caplog.text
    assert closed.events == ["window_closed"]
    assert "window_end" not in attention.trigger_kwargs()  # reported: a trigger need not fire again


def test_a_final_execution_after_the_window_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    closed = Calls()
    attention = WorkerAttention(window_closed_callbacks=(closed,), window_end=END)
    with caplog.at_level(logging.WARNING, logger="test_pause_notify"):
        attention.observe(execution("SUCCESS"), {}, None, LOG, now=END + timedelta(hours=1))
    assert closed.events == [] and caplog.text == ""


def test_trigger_kwargs_carry_the_window_end_until_reported() -> None:
    attention = WorkerAttention(window_end=END)
    assert attention.trigger_kwargs() == {"window_end": END.timestamp()}
    assert WorkerAttention().trigger_kwargs() == {}  # a plain wait's trigger stays as it was


# ---- Done-when: a pause notifies exactly once in each waiting mode (real emulator) --------------

POLL = 0.05
# A manual step: the execution PAUSES until a person approves it (the emulator's admin API here).
APPROVAL = {
    "name": "with-approval",
    "operators": [
        {
            "name": "prepare",
            "operator": "BCE::Agent::ExecuteShell",
            "properties": {"content": "# emulator: sleep 25"},
        },
        {
            "name": "approve",
            "operator": "BCE::Agent::ExecuteShell",
            "manually": True,
            "properties": {"content": "echo"},
        },
        {"name": "finish", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "echo done"}},
    ],
}


class Paged:
    """A real Airflow notifier that records what it would send."""

    def __init__(self) -> None:
        from airflow.sdk import BaseNotifier

        sent: list[dict[str, Any]] = []

        class Recorder(BaseNotifier):
            template_fields = ("message",)

            def __init__(self) -> None:
                super().__init__()
                self.message = "{{ oos_execution_id }} paused: {{ oos_console_url }}"

            def notify(self, context: Any) -> None:
                sent.append({"message": self.message, "event": context["oos_event"]})

        self.notifier = Recorder()
        self.sent = sent


def hold_pause(emulator: Any, seconds: float) -> Any:
    """A person approves the paused execution `seconds` after it paused (many polls later)."""
    from tests.support.oos_task_helpers import approve_when_paused

    return approve_when_paused(emulator, after=seconds)


def paused_polls(emulator: Any) -> int:
    return int(emulator.admin("GET", "stats")["requests"].get("GET /api/logic/oos/v2/execution", 0))


def test_operator_in_the_worker_notifies_once_per_pause(emulator: Any) -> None:
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from tests.support.oos_task_helpers import task_context

    paged = Paged()
    approver = hold_pause(emulator, 0.6)
    summary = OosCreateExecutionOperator(
        task_id="worker_pause", template=APPROVAL, poll_interval=POLL, on_pause_callback=paged.notifier
    ).execute(task_context(task_id="worker_pause"))
    approver.join()
    assert summary["state"] == "SUCCESS"
    assert paused_polls(emulator) >= 8  # the pause was seen by many polls
    assert paged.sent == [
        {"message": f"{summary['execution_id']} paused: {summary['console_url']}", "event": "paused"}
    ]


def test_operator_deferred_notifies_once_per_pause_in_the_worker_then_defers_again(emulator: Any) -> None:
    import asyncio

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger
    from tests.support.oos_task_helpers import TaskDeferred, run_trigger, task_context

    paged = Paged()
    context = task_context(task_id="deferred_pause")
    op = OosCreateExecutionOperator(
        task_id="deferred_pause",
        template=APPROVAL,
        poll_interval=POLL,
        deferrable=True,
        timeout=60,
        on_pause_callback=paged.notifier,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    approver = hold_pause(emulator, 0.6)
    events: list[dict[str, Any]] = []
    deadlines = set()
    trigger = deferred.value.trigger
    while True:
        _classpath, kwargs = trigger.serialize()  # as the triggerer rebuilds it from the metadata DB
        deadlines.add(kwargs["deadline"])
        (event,) = asyncio.run(run_trigger(OosExecutionTrigger(**kwargs)))
        events.append(event)
        try:
            summary = op.execute_complete(context, event)
            break
        except TaskDeferred as again:
            assert paged.sent, "deferred again without notifying"
            trigger = again.trigger
    approver.join()
    assert [e["status"] for e in events] == ["attention", "success"]
    assert events[0]["attention"] == "paused" and events[0]["pause_key"] == "manual step approve"
    assert summary["state"] == "SUCCESS"
    assert len(deadlines) == 1  # deferring again keeps the wait's deadline
    assert paged.sent == [
        {"message": f"{summary['execution_id']} paused: {summary['console_url']}", "event": "paused"}
    ]


def test_two_pauses_of_one_execution_notify_twice(emulator: Any) -> None:
    import threading
    import time

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from tests.support.oos_task_helpers import task_context

    calls: list[str] = []
    long_run = {
        "name": "two-pauses",
        "operators": [
            {
                "name": "work",
                "operator": "BCE::Agent::ExecuteShell",
                "properties": {"content": "# emulator: sleep 75"},
            }
        ],
    }

    def pause_twice() -> None:
        while not [e for e in emulator.executions() if e["state"] == "RUNNING"]:
            time.sleep(0.02)
        execution_id = emulator.executions()[0]["id"]
        for _ in range(2):
            emulator.admin("POST", f"executions/{execution_id}/pause")
            time.sleep(0.4)
            emulator.admin("POST", f"executions/{execution_id}/resume")
            time.sleep(0.3)

    person = threading.Thread(target=pause_twice, daemon=True)
    person.start()
    summary = OosCreateExecutionOperator(
        task_id="two_pauses",
        template=long_run,
        poll_interval=POLL,
        on_pause_callback=lambda context: calls.append(context["oos_message"]),
    ).execute(task_context(task_id="two_pauses"))
    person.join()
    assert summary["state"] == "SUCCESS"
    assert len(calls) == 2 and all("is PAUSED and waits for a person" in c for c in calls)


def test_sensor_notifies_once_per_pause_poking_and_deferred(emulator: Any) -> None:
    import asyncio

    from airflow_provider_oos.hooks.oos import OosHook
    from airflow_provider_oos.sensors.oos import OosExecutionSensor
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger
    from tests.support.oos_task_helpers import TaskDeferred, run_trigger, task_context

    # Poke mode: the sensor object lives across pokes of one try.
    paged = Paged()
    execution_id = OosHook().create_execution(APPROVAL)
    sensor = OosExecutionSensor(
        task_id="watch",
        execution_id=execution_id,
        poke_interval=POLL,
        timeout=60,
        on_pause_callback=paged.notifier,
    )
    approver = hold_pause(emulator, 0.6)
    result = sensor.execute(task_context(task_id="watch"))
    approver.join()
    assert result["state"] == "SUCCESS"
    assert [s["event"] for s in paged.sent] == ["paused"]

    # Deferrable mode: the trigger fires, the sensor notifies in the worker and defers again.
    paged = Paged()
    execution_id = OosHook().create_execution(APPROVAL)
    sensor = OosExecutionSensor(
        task_id="watch_deferred",
        execution_id=execution_id,
        poke_interval=POLL,
        timeout=60,
        deferrable=True,
        on_pause_callback=paged.notifier,
    )
    context = task_context(task_id="watch_deferred")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    approver = hold_pause(emulator, 0.6)
    trigger, statuses = deferred.value.trigger, []
    while True:
        (event,) = asyncio.run(run_trigger(OosExecutionTrigger(**trigger.serialize()[1])))
        statuses.append(event["status"])
        try:
            result = sensor.execute_complete(context, event)
            break
        except TaskDeferred as again:
            trigger = again.trigger
    approver.join()
    assert statuses == ["attention", "success"] and result["state"] == "SUCCESS"
    assert [s["event"] for s in paged.sent] == ["paused"]


def test_no_user_code_in_the_triggerer(emulator: Any) -> None:
    """The trigger's serialized kwargs hold no callables: only what fires an event."""
    import json

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from tests.support.oos_task_helpers import TaskDeferred, task_context

    op = OosCreateExecutionOperator(
        task_id="no_user_code",
        template=APPROVAL,
        poll_interval=POLL,
        deferrable=True,
        on_pause_callback=lambda context: None,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(task_context(task_id="no_user_code"))
    _classpath, kwargs = deferred.value.trigger.serialize()
    json.dumps(kwargs)
    assert kwargs["stop_on_pause"] is True and "last_pause_key" not in kwargs


def test_reschedule_mode_cannot_promise_once_per_pause() -> None:
    from airflow_provider_oos.sensors.oos import OosExecutionSensor

    with pytest.raises(ValueError, match="on_pause_callback needs mode='poke' or deferrable=True"):
        OosExecutionSensor(task_id="s", execution_id="d-1", mode="reschedule", on_pause_callback=print)
    with pytest.raises(TypeError, match="on_pause_callback must be an Airflow notifier"):
        OosExecutionSensor(task_id="s", execution_id="d-1", on_pause_callback="page me")
