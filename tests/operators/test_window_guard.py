"""The window guard in a task: skip or fail before anything is created, and say why."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_oos.operators.safety import guard_start, run_times, window_end_for
from airflow_provider_oos.rules.window import StartWindow

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


# ---- Done-when: a run past its window creates nothing (the emulator's create count) --------------

POLL = 0.05
WORK = {
    "name": "window-work",
    "operators": [
        {
            "name": "work",
            "operator": "BCE::Agent::ExecuteShell",
            "properties": {"content": "# emulator: sleep 50"},
        }
    ],
}


def run_context(task_id: str, data_interval_end: datetime | None) -> dict[str, Any]:
    from tests.support.oos_task_helpers import task_context

    context = task_context(task_id=task_id)
    context.update(
        data_interval_start=data_interval_end,
        data_interval_end=data_interval_end,
        dag_run=SimpleNamespace(run_after=data_interval_end, start_date=None),
    )
    return context


def guarded(task_id: str, **kwargs: Any) -> Any:
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    kwargs.setdefault("template", WORK)
    return OosCreateExecutionOperator(task_id=task_id, poll_interval=POLL, **kwargs)


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_a_run_past_its_window_creates_nothing(emulator: Any) -> None:
    # Due at 02:00, latest start 04:00; the worker only gets to it ten hours later.
    context = run_context("late", now() - timedelta(hours=10))
    with pytest.raises(AirflowSkipException) as skipped:
        guarded("late", latest_start=timedelta(hours=2)).execute(context)
    assert "Maintenance window missed: the latest start was" in str(skipped.value)
    assert "(data_interval_end + 2h), 8h ago" in str(skipped.value)
    assert emulator.create_calls() == 0
    assert emulator.executions() == []
    assert "execution_id" not in context["ti"].xcoms


def test_a_missed_window_can_fail_the_task_instead(emulator: Any) -> None:
    context = run_context("late_fail", now() - timedelta(hours=10))
    with pytest.raises(AirflowFailException, match="on_window_missed='fail'"):
        guarded("late_fail", latest_start=timedelta(hours=2), on_window_missed="fail").execute(context)
    assert emulator.create_calls() == 0


def test_a_run_whose_expected_duration_no_longer_fits_creates_nothing(emulator: Any) -> None:
    context = run_context("no_fit", now() - timedelta(hours=3))
    with pytest.raises(AirflowSkipException, match=r"expected_duration is 2h: 1h .*short"):
        guarded("no_fit", window_end=timedelta(hours=4), expected_duration=timedelta(hours=2)).execute(
            context
        )
    assert emulator.create_calls() == 0


def test_a_run_inside_its_window_starts(emulator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    context = run_context("on_time", now() - timedelta(minutes=10))
    summary = guarded("on_time", latest_start=timedelta(hours=1), window_end=timedelta(hours=4)).execute(
        context
    )
    assert summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1
    assert "Inside the maintenance window" in capsys.readouterr().out


def test_a_retry_after_the_window_waits_on_the_earlier_try_instead_of_skipping(emulator: Any) -> None:
    from airflow_provider_oos.hooks.oos import OosHook
    from airflow_provider_oos.rules.reattach import task_instance_tags

    context = run_context("retried", now() - timedelta(hours=10))
    earlier = OosHook().create_execution(WORK, tags=task_instance_tags(context["ti"]))  # try 1's execution
    summary = guarded("retried", latest_start=timedelta(hours=2)).execute(context)
    assert summary["execution_id"] == earlier and summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1


def test_bad_window_settings_fail_at_dag_parse_time() -> None:
    with pytest.raises(ValueError, match=r"latest_start .* has no timezone"):
        guarded("t", latest_start=datetime(2026, 1, 4, 4))
    with pytest.raises(ValueError, match="expected_duration needs window_end"):
        guarded("t", expected_duration=timedelta(hours=1))
    with pytest.raises(ValueError, match="on_window_missed"):
        guarded("t", latest_start=timedelta(hours=1), on_window_missed="later")
    with pytest.raises(TypeError, match="on_window_closed_callback must be an Airflow notifier"):
        guarded("t", window_end=timedelta(hours=1), on_window_closed_callback="page")


# ---- the window closes while the execution still runs ---------------------------------------------


def test_window_closing_mid_run_in_the_worker_warns_once_and_notifies(
    emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    context = run_context("overrun", now())
    summary = guarded(
        "overrun", window_end=now() + timedelta(seconds=0.4), on_window_closed_callback=calls.append
    ).execute(context)
    # It was not stopped (OOS cannot): it ran to its end.
    assert summary["state"] == "SUCCESS"
    warnings = [line for line in capsys.readouterr().out.splitlines() if "MAINTENANCE WINDOW CLOSED" in line]
    assert len(warnings) == 1 and summary["console_url"] in warnings[0]
    assert [c["oos_event"] for c in calls] == ["window_closed"]
    assert calls[0]["oos_console_url"] == summary["console_url"]


def test_window_closing_mid_run_deferred_is_reported_from_the_worker(emulator: Any) -> None:
    import asyncio

    from airflow_provider_oos.triggers.oos import OosExecutionTrigger
    from tests.support.oos_task_helpers import TaskDeferred, run_trigger

    calls: list[dict[str, Any]] = []
    context = run_context("overrun_deferred", now())
    op = guarded(
        "overrun_deferred",
        window_end=now() + timedelta(seconds=0.5),
        on_window_closed_callback=calls.append,
        deferrable=True,
        timeout=60,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger, events = deferred.value.trigger, []
    while True:
        (event,) = asyncio.run(run_trigger(OosExecutionTrigger(**trigger.serialize()[1])))
        events.append(event)
        try:
            summary = op.execute_complete(context, event)
            break
        except TaskDeferred as again:
            trigger = again.trigger
            assert "window_end" not in trigger.serialize()[1]  # reported once: not watched again
    assert [(e["status"], e.get("attention")) for e in events] == [
        ("attention", "window_closed"),
        ("success", None),
    ]
    assert "MAINTENANCE WINDOW CLOSED" in events[0]["message"]
    assert summary["state"] == "SUCCESS"
    assert [c["oos_event"] for c in calls] == ["window_closed"]
