"""Pause notifications: which observations are a new pause, and how notifiers are called."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airflow.sdk import BaseNotifier

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.rules.notify import (
    PAUSED_EVENT,
    PauseWatch,
    pause_key,
    send_notifications,
    validate_notifiers,
)

LOG = logging.getLogger("test_notify")


def execution(state: str, *steps: tuple[str, str, bool]) -> Execution:
    """An execution whose steps are (name, state, manually)."""
    return Execution.model_validate(
        {
            "id": "d-1",
            "state": state,
            "tasks": [
                {"id": f"t-{name}", "state": task_state, "operator": {"name": name, "manually": manual}}
                for name, task_state, manual in steps
            ],
        }
    )


RUNNING = execution("RUNNING", ("a", "RUNNING", False), ("b", "PENDING", True))
PAUSED_AT_A = execution("PAUSED", ("a", "RUNNING", False), ("b", "PENDING", False))


# ---- what a pause is --------------------------------------------------------------------------


def test_pause_key() -> None:
    assert pause_key(RUNNING) is None
    assert pause_key(PAUSED_AT_A) == "paused"
    waiting_for_b = execution("PAUSED", ("a", "SUCCESS", False), ("b", "PENDING", True))
    assert pause_key(waiting_for_b) == "manual step b"


def test_one_pause_is_reported_once_however_often_it_is_seen() -> None:
    watch = PauseWatch()
    seen = [watch.observe(e) for e in (RUNNING, PAUSED_AT_A, PAUSED_AT_A, PAUSED_AT_A)]
    assert seen == [False, True, False, False]


def test_a_step_finishing_during_a_pause_is_not_a_new_pause() -> None:
    watch = PauseWatch()
    assert watch.observe(PAUSED_AT_A)
    assert not watch.observe(execution("PAUSED", ("a", "SUCCESS", False), ("b", "PENDING", False)))


def test_pause_resume_pause_is_two_pauses() -> None:
    watch = PauseWatch()
    assert [watch.observe(e) for e in (PAUSED_AT_A, RUNNING, PAUSED_AT_A)] == [True, False, True]


def test_the_next_manual_step_is_a_new_pause_even_without_a_poll_in_between() -> None:
    watch = PauseWatch()
    first = execution("PAUSED", ("a", "PENDING", True), ("b", "PENDING", True))
    second = execution("PAUSED", ("a", "SUCCESS", True), ("b", "PENDING", True))
    assert [watch.observe(first), watch.observe(second)] == [True, True]


def test_the_watch_state_survives_a_deferral() -> None:
    before = PauseWatch()
    assert before.observe(PAUSED_AT_A)
    after = PauseWatch(last_key=before.last_key)  # e.g. serialized in the trigger's kwargs
    assert not after.observe(PAUSED_AT_A)
    assert after.observe(RUNNING) is False and after.observe(PAUSED_AT_A) is True


# ---- settings ----------------------------------------------------------------------------------


def test_validate_notifiers() -> None:
    def callback(context: Any) -> None:
        return None

    assert validate_notifiers(None, "on_paused_notify") == ()
    assert validate_notifiers(callback, "on_paused_notify") == (callback,)
    assert validate_notifiers([callback, callback], "on_paused_notify") == (callback, callback)
    with pytest.raises(TypeError, match=r"on_paused_notify must be an Airflow notifier"):
        validate_notifiers("slack", "on_paused_notify")
    with pytest.raises(TypeError, match=r"on_window_closed\[1\] must be an Airflow notifier"):
        validate_notifiers([callback, 3], "on_window_closed")


# ---- calling them ------------------------------------------------------------------------------


class RecordingNotifier(BaseNotifier):
    """A real Airflow notifier with a templated message."""

    template_fields = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
        self.sent: list[str] = []

    def notify(self, context: Any) -> None:
        self.sent.append(self.message)


def send(notifiers: tuple[Any, ...], **overrides: Any) -> int:
    details: dict[str, Any] = {
        "event": PAUSED_EVENT,
        "execution_id": "d-1",
        "console_url": "http://console/d-1",
        "message": "OOS execution d-1 is PAUSED",
        "log": LOG,
    }
    details.update(overrides)
    return send_notifications(notifiers, {"run_id": "r1"}, **details)


def test_notifiers_and_callables_get_the_context_and_the_oos_details() -> None:
    received: list[dict[str, Any]] = []
    notifier = RecordingNotifier("{{ run_id }}: {{ oos_execution_id }} paused, see {{ oos_console_url }}")
    assert send((notifier, received.append)) == 2
    assert received[0]["run_id"] == "r1"
    assert received[0]["oos_event"] == "paused"
    assert received[0]["oos_execution_id"] == "d-1"
    assert received[0]["oos_console_url"] == "http://console/d-1"
    assert received[0]["oos_message"] == "OOS execution d-1 is PAUSED"


def test_a_notifier_renders_fresh_on_every_call() -> None:
    seen: list[str] = []

    class Collect(RecordingNotifier):
        def notify(self, context: Any) -> None:
            seen.append(self.message)

    notifier = Collect("{{ oos_execution_id }}")
    send((notifier,), execution_id="d-1")
    send((notifier,), execution_id="d-2")
    assert seen == ["d-1", "d-2"]
    assert notifier.message == "{{ oos_execution_id }}"  # the original stays a template


def test_a_failing_notifier_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    received: list[Any] = []

    def broken(context: Any) -> None:
        raise RuntimeError("chat service down")

    with caplog.at_level(logging.INFO, logger="test_notify"):
        assert send((broken, received.append)) == 1
    assert len(received) == 1
    assert "chat service down" in caplog.text and "the task goes on" in caplog.text
    assert "Notifying 2 notifier(s) (paused) about OOS execution d-1" in caplog.text


def test_no_notifiers_no_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="test_notify"):
        assert send(()) == 0
    assert caplog.text == ""
