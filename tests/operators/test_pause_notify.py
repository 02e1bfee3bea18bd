"""Telling a person from the worker: once per pause, once when the window closes mid-run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_oos.models import Execution
from airflow_provider_oos.notify import describe_paused
from airflow_provider_oos.safety import Attention

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
    attention = Attention(pause_callbacks=(paused,))
    for state in ("RUNNING", "PAUSED", "PAUSED", "PAUSED", "RUNNING", "SUCCESS"):
        attention.observe(execution(state), {"run_id": "r"}, "http://console/d-1", LOG)
    assert paused.events == ["paused"]
    assert paused.contexts[0]["oos_console_url"] == "http://console/d-1"
    assert "d-1 is PAUSED and waits for a person" in paused.contexts[0]["oos_message"]
    assert paused.contexts[0]["run_id"] == "r"


def test_two_pauses_notify_twice() -> None:
    paused = Calls()
    attention = Attention(pause_callbacks=(paused,))
    for state in ("PAUSED", "RUNNING", "PAUSED"):
        attention.observe(execution(state), {}, None, LOG)
    assert paused.events == ["paused", "paused"]


def test_a_pause_notified_before_a_deferral_is_not_notified_again() -> None:
    paused = Calls()
    before = Attention(pause_callbacks=(paused,))
    before.observe(execution("PAUSED"), {}, None, LOG)
    kwargs = before.trigger_kwargs()
    assert kwargs == {"stop_on_pause": True, "last_pause_key": "paused"}
    after = Attention(pause_callbacks=(paused,), last_pause_key=kwargs["last_pause_key"])
    after.observe(execution("PAUSED"), {}, None, LOG)
    assert paused.events == ["paused"]


def test_the_manual_step_is_named() -> None:
    assert "is PAUSED at manual step approve" in describe_paused(execution("PAUSED", "approve"), "http://c")


def test_the_window_closing_mid_run_warns_loudly_once_and_notifies(caplog: pytest.LogCaptureFixture) -> None:
    closed = Calls()
    attention = Attention(window_closed_callbacks=(closed,), window_end=END)
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
    attention = Attention(window_closed_callbacks=(closed,), window_end=END)
    with caplog.at_level(logging.WARNING, logger="test_pause_notify"):
        attention.observe(execution("SUCCESS"), {}, None, LOG, now=END + timedelta(hours=1))
    assert closed.events == [] and caplog.text == ""


def test_trigger_kwargs_carry_the_window_end_until_reported() -> None:
    attention = Attention(window_end=END)
    assert attention.trigger_kwargs() == {"window_end": END.timestamp()}
    assert Attention().trigger_kwargs() == {}  # a plain wait's trigger stays as it was
