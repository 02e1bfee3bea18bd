"""The maintenance-window guard: settings checked up front, and a pure start/skip/fail decision."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest

from airflow_provider_oos.rules.window import (
    FAIL,
    SKIP,
    START,
    StartWindow,
    WindowWatch,
    decide_start,
    describe_window_closed,
    human_duration,
)

UTC = timezone.utc
# A weekly window: the run is due Sunday 02:00 UTC (the data interval end of a cron run).
DUE = datetime(2026, 1, 4, 2, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return DUE + timedelta(hours=hours)


def decide(window: StartWindow, now: datetime, **run: Any) -> Any:
    run.setdefault("data_interval_end", DUE)
    return decide_start(window, now=now, **run)


# ---- settings: errors name the field and the fix, at construction (DAG parse time) ----------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"latest_start": datetime(2026, 1, 4, 4)}, ValueError, ["latest_start", "no timezone", "tz="]),
        ({"window_end": datetime(2026, 1, 4, 4)}, ValueError, ["window_end", "no timezone"]),
        ({"latest_start": "04:00"}, TypeError, ["latest_start", "timezone-aware datetime", "timedelta"]),
        ({"latest_start": 7200}, TypeError, ["latest_start", "timedelta(hours=2)"]),
        ({"latest_start": timedelta(hours=-1)}, ValueError, ["latest_start", "must not be negative"]),
        ({"window_end": timedelta(hours=4), "expected_duration": 90}, TypeError, ["expected_duration"]),
        (
            {"window_end": timedelta(hours=4), "expected_duration": timedelta(0)},
            ValueError,
            ["expected_duration", "longer than 0"],
        ),
        ({"expected_duration": timedelta(hours=1)}, ValueError, ["expected_duration needs window_end"]),
        ({"latest_start": timedelta(1), "window_anchor": "logical_date"}, ValueError, ["window_anchor"]),
        ({"latest_start": timedelta(1), "on_window_missed": "ignore"}, ValueError, ["on_window_missed"]),
        (
            {"latest_start": timedelta(hours=4), "window_end": timedelta(hours=2)},
            ValueError,
            ["window_end", "must be after latest_start"],
        ),
        (
            {"latest_start": at(2), "window_end": at(1)},
            ValueError,
            ["window_end", "must be after latest_start"],
        ),
        (
            {
                "latest_start": timedelta(hours=2),
                "window_end": timedelta(hours=3),
                "expected_duration": timedelta(hours=2),
            },
            ValueError,
            ["latest_start", "expected_duration", "overrun"],
        ),
    ],
)
def test_bad_settings_are_refused_with_the_field_and_the_fix(
    kwargs: dict[str, Any], error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as raised:
        StartWindow(**kwargs)
    for word in words:
        assert word in str(raised.value)


def test_good_settings_are_kept() -> None:
    window = StartWindow(
        latest_start=timedelta(hours=1),
        window_end=timedelta(hours=4),
        expected_duration=timedelta(hours=2),
        window_anchor="data_interval_start",
        on_window_missed="fail",
    )
    assert window.enabled
    assert not StartWindow().enabled
    # A pendulum datetime is an aware datetime.
    assert StartWindow(latest_start=pendulum.datetime(2026, 1, 4, 4, tz="Asia/Shanghai")).enabled


# ---- the decision ------------------------------------------------------------------------------


def test_no_window_always_starts() -> None:
    assert decide_start(None, now=at(100)).action == START
    assert decide_start(StartWindow(), now=at(100)).action == START


def test_inside_the_window_starts_and_says_how_much_time_is_left() -> None:
    window = StartWindow(
        latest_start=timedelta(hours=1), window_end=timedelta(hours=4), expected_duration=timedelta(hours=2)
    )
    decision = decide(window, at(0.5))
    assert decision.should_start
    assert "latest start 2026-01-04T03:00:00+00:00 (data_interval_end + 1h) is in 30m" in decision.message
    assert "expected duration 2h, 1h 30m to spare" in decision.message


def test_a_start_after_the_latest_start_is_skipped_saying_which_window_and_by_how_much() -> None:
    decision = decide(StartWindow(latest_start=timedelta(hours=2)), at(8))
    assert decision.action == SKIP
    assert not decision.should_start
    assert "Maintenance window missed" in decision.message
    assert "2026-01-04T04:00:00+00:00 (data_interval_end + 2h)" in decision.message
    assert "6h ago" in decision.message
    assert "Nothing was started in OOS (on_window_missed='skip')" in decision.message


def test_fail_instead_of_skip_when_chosen() -> None:
    decision = decide(
        StartWindow(latest_start=timedelta(hours=2), on_window_missed="fail"),
        at(
            2,
        )
        + timedelta(seconds=1),
    )
    assert decision.action == FAIL
    assert "1s ago" in decision.message


def test_the_latest_start_itself_is_still_inside() -> None:
    assert decide(StartWindow(latest_start=timedelta(hours=2)), at(2)).action == START


def test_expected_duration_must_still_fit_before_the_window_ends() -> None:
    window = StartWindow(window_end=timedelta(hours=4), expected_duration=timedelta(minutes=90))
    assert decide(window, at(2.5)).action == START  # exactly fits
    decision = decide(window, at(3.25))
    assert decision.action == SKIP
    assert "it ends at 2026-01-04T06:00:00+00:00 (data_interval_end + 4h), in 45m" in decision.message
    assert "expected_duration is 1h 30m: 45m short" in decision.message


def test_a_window_that_already_ended_is_missed() -> None:
    decision = decide(StartWindow(window_end=timedelta(hours=4)), at(5))
    assert decision.action == SKIP
    assert "it ended at" in decision.message and "1h ago" in decision.message


def test_absolute_times_need_no_data_interval() -> None:
    window = StartWindow(latest_start=pendulum.datetime(2026, 1, 4, 10, tz="Asia/Shanghai"))  # 02:00 UTC
    assert decide_start(window, now=DUE).action == START
    decision = decide_start(window, now=DUE + timedelta(minutes=5))
    assert decision.action == SKIP and "5m ago" in decision.message
    assert "2026-01-04T10:00:00+08:00" in decision.message


def test_the_anchor_can_be_the_data_interval_start() -> None:
    window = StartWindow(latest_start=timedelta(hours=2), window_anchor="data_interval_start")
    run = {"data_interval_start": DUE - timedelta(days=7), "data_interval_end": DUE}
    decision = decide_start(window, now=at(1), **run)
    assert decision.action == SKIP
    assert "data_interval_start + 2h" in decision.message


def test_a_run_without_a_data_interval_counts_from_run_after() -> None:
    window = StartWindow(latest_start=timedelta(hours=2))
    decision = decide_start(window, now=at(1), data_interval_end=None, run_after=DUE)
    assert decision.action == START
    assert "run_after + 2h" in decision.message


def test_a_relative_window_that_cannot_be_placed_does_not_start() -> None:
    decision = decide_start(StartWindow(latest_start=timedelta(hours=2)), now=at(1))
    assert decision.action == SKIP
    assert "no data_interval_end and no run_after" in decision.message
    assert "absolute datetimes" in decision.message


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        decide_start(StartWindow(latest_start=timedelta(1)), now=datetime(2026, 1, 4))


def test_the_resolved_window_is_returned_for_later_use() -> None:
    decision = decide(StartWindow(latest_start=timedelta(hours=1), window_end=timedelta(hours=3)), at(0))
    assert decision.window is not None
    assert decision.window.latest_start == at(1)
    assert decision.window.window_end == at(3)


# ---- the window closes while an execution runs ------------------------------------------------


def test_window_watch_reports_once_after_the_end() -> None:
    watch = WindowWatch(at(3))
    assert watch.seconds_left(at(2)) == 3600
    assert watch.check(at(2)) is False
    assert watch.check(at(3)) is True
    assert watch.check(at(4)) is False
    assert watch.seconds_left(at(4)) is None
    assert WindowWatch(None).check(at(100)) is False
    assert WindowWatch(at(3), warned=True).check(at(4)) is False


def test_window_closed_warning_is_loud_and_gives_the_console_link() -> None:
    text = describe_window_closed("d-abc", at(3), at(3.5), "RUNNING", "http://console/d-abc")
    assert text.startswith("MAINTENANCE WINDOW CLOSED 30m ago")
    assert "d-abc is still RUNNING" in text
    assert "no cancel call" in text and "http://console/d-abc" in text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=12), "12s"),
        (timedelta(minutes=45, seconds=10), "45m 10s"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1d 2h 3m"),
        (-timedelta(minutes=5), "5m"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text
