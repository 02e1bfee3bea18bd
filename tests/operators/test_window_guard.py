"""The window guard in a task: skip or fail before anything is created, and say why."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_oos.safety import guard_start, run_times, window_end_for
from airflow_provider_oos.window import StartWindow

try:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException, AirflowSkipException  # type: ignore[no-redef]

UTC = timezone.utc
DUE = datetime(2026, 1, 4, 2, 0, tzinfo=UTC)
LOG = logging.getLogger("test_window_guard")


def context(**times: Any) -> dict[str, Any]:
    run_after = times.pop("run_after", None)
    return {**times, "dag_run": SimpleNamespace(run_after=run_after, start_date=None)}


def test_run_times_reads_the_interval_and_run_after() -> None:
    times = run_times(
        context(data_interval_start=DUE - timedelta(days=7), data_interval_end=DUE, run_after=DUE)
    )
    assert times == {
        "data_interval_start": DUE - timedelta(days=7),
        "data_interval_end": DUE,
        "run_after": DUE,
    }
    assert run_times({}) == {"data_interval_start": None, "data_interval_end": None, "run_after": None}


def test_no_window_no_decision() -> None:
    assert guard_start(None, context(), LOG) is None
    assert guard_start(StartWindow(), context(), LOG) is None


def test_inside_the_window_logs_and_returns_the_placed_window(caplog: pytest.LogCaptureFixture) -> None:
    window = StartWindow(latest_start=timedelta(hours=1), window_end=timedelta(hours=3))
    with caplog.at_level(logging.INFO, logger="test_window_guard"):
        placed = guard_start(window, context(data_interval_end=DUE), LOG, now=DUE + timedelta(minutes=10))
    assert placed is not None and placed.window_end == DUE + timedelta(hours=3)
    assert "Inside the maintenance window" in caplog.text


def test_a_missed_window_skips_by_default(caplog: pytest.LogCaptureFixture) -> None:
    window = StartWindow(latest_start=timedelta(hours=1))
    with pytest.raises(AirflowSkipException, match=r"latest start was .* 7h ago"):
        guard_start(window, context(data_interval_end=DUE), LOG, now=DUE + timedelta(hours=8))
    assert "Maintenance window missed" in caplog.text


def test_a_missed_window_fails_when_chosen() -> None:
    window = StartWindow(latest_start=timedelta(hours=1), on_window_missed="fail")
    with pytest.raises(AirflowFailException, match="on_window_missed='fail'"):
        guard_start(window, context(data_interval_end=DUE), LOG, now=DUE + timedelta(hours=8))


def test_window_end_for_a_run() -> None:
    window = StartWindow(window_end=timedelta(hours=4))
    assert window_end_for(window, context(data_interval_end=DUE)) == DUE + timedelta(hours=4)
    assert window_end_for(window, context(run_after=DUE)) == DUE + timedelta(hours=4)
    assert window_end_for(window, context()) is None
    assert window_end_for(StartWindow(latest_start=timedelta(1)), context(data_interval_end=DUE)) is None
    assert window_end_for(None, context()) is None
