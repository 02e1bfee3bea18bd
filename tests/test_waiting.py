"""Unit tests of the waiting state machine and the shared waiting rules (all pure)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.client.retry import is_transient
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
    OosNotFoundError,
    OosThrottledError,
)
from airflow_provider_oos.rules.waiting import (
    MAX_BACKOFF_SECONDS,
    ErrorTypes,
    Finish,
    Outcome,
    Sleep,
    Stop,
    StopReason,
    WaitingStateMachine,
    backoff_seconds,
    classify,
    describe_failure,
    failure_with_log,
    log_notes,
    resolve_trigger_event,
    summarize,
    validate_on_paused,
    validate_poll_interval,
)

URL = "https://console.example/oos/d-1"


def step(name: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"t-{name}",
        "state": state,
        "operator": {"name": name, "operator": "BCE::BCC::StopInstance"},
        **extra,
    }


def execution(state: str, *tasks: dict[str, Any], operators: int | None = None) -> Execution:
    data: dict[str, Any] = {"id": "d-1", "state": state, "tasks": list(tasks)}
    if operators is not None:
        data["template"] = {"name": "t", "operators": [{"name": f"s{i}"} for i in range(operators)]}
    return Execution.model_validate(data)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("SUCCESS", Outcome.SUCCESS),
        ("FAILED", Outcome.FAILED),
        ("CANCELED", Outcome.FAILED),
        ("CANCELLED", Outcome.FAILED),
        ("ROLLBACK_SUCCESS", Outcome.FAILED),
        ("ROLLBACK_FAILED", Outcome.FAILED),
        ("PAUSED", Outcome.PAUSED),
        ("PENDING", Outcome.WAITING),
        ("RUNNING", Outcome.WAITING),
        ("ROLLBACK", Outcome.WAITING),
        ("SOMETHING_NEW", Outcome.UNKNOWN),
        (None, Outcome.UNKNOWN),
    ],
)
def test_classify(state: str | None, outcome: Outcome) -> None:
    assert classify(Execution(id="d-1", state=state)) is outcome


def test_summarize_lists_each_step_with_outputs() -> None:
    ex = execution(
        "SUCCESS", step("stop", "SUCCESS"), step("shell", "SUCCESS", outputContext={"exitCode": 0})
    )
    assert summarize(ex, URL) == {
        "execution_id": "d-1",
        "state": "SUCCESS",
        "console_url": URL,
        "tasks": {
            "stop": {"state": "SUCCESS", "outputs": {}},
            "shell": {"state": "SUCCESS", "outputs": {"exitCode": 0}},
        },
    }


def test_summarize_keeps_outputs_that_are_not_an_object() -> None:
    # outputContext may hold any JSON (oos-api.md): a summary must never fail on it
    ex = execution("SUCCESS", step("list", "SUCCESS", outputContext=["i-1", "i-2"]), step("none", "SUCCESS"))
    assert summarize(ex, URL)["tasks"] == {
        "list": {"state": "SUCCESS", "outputs": {"value": ["i-1", "i-2"]}},
        "none": {"state": "SUCCESS", "outputs": {}},
    }


def test_describe_failure_names_execution_step_reason_and_log_tail() -> None:
    logs = [{"timestamp": i, "level": "INFO", "msg": f"line {i}"} for i in range(8)]
    ex = execution(
        "FAILED",
        step("stop", "SUCCESS"),
        step("patch", "FAILED", reason="exit code 3", log=logs),
        step("start", "UPSTREAM_FAILED"),
    )
    text = describe_failure(ex, URL)
    assert "d-1" in text and "FAILED" in text
    assert "'patch'" in text and "exit code 3" in text
    assert "line 7" in text and "line 3" in text and "line 2" not in text  # only the last 5 lines
    assert URL in text


def test_describe_failure_without_failed_step() -> None:
    text = describe_failure(execution("CANCELED", step("stop", "SUCCESS")))
    assert "d-1" in text and "CANCELED" in text and "No failed step" in text


def decide(ex: Execution, *, on_paused: str, console_url: str) -> dict[str, Any] | None:
    """One read through the state machine: the summary, None to keep waiting, or the error raised."""
    machine = WaitingStateMachine("d-1", console_url, poll_interval=1, on_paused=on_paused)
    action = machine.next_action(ex, 0.0)
    if isinstance(action, Finish):
        return action.summary
    if isinstance(action, Stop):
        raise ErrorTypes().error_for(action)
    return None


def test_outcome_rules() -> None:
    assert decide(execution("SUCCESS"), on_paused="wait", console_url=URL) == summarize(
        execution("SUCCESS"), URL
    )
    assert decide(execution("RUNNING"), on_paused="fail", console_url=URL) is None
    assert decide(execution("PAUSED"), on_paused="wait", console_url=URL) is None
    assert decide(execution("MYSTERY"), on_paused="fail", console_url=URL) is None
    with pytest.raises(OosExecutionPausedError, match="PAUSED") as paused:
        decide(execution("PAUSED", step("approve", "RUNNING")), on_paused="fail", console_url=URL)
    assert URL in str(paused.value) and "'approve'" in str(paused.value)
    with pytest.raises(OosExecutionFailedError, match="boom") as failed:
        decide(execution("FAILED", step("a", "FAILED", reason="boom")), on_paused="wait", console_url=URL)
    assert failed.value.execution.id == "d-1"


def test_resolve_trigger_event_maps_every_status() -> None:
    """Events of earlier versions carried the whole execution: they still resolve."""
    ok = execution("SUCCESS", step("a", "SUCCESS"))
    event = {"status": "success", "execution_id": "d-1", "console_url": URL, "execution": ok.to_api()}
    assert resolve_trigger_event(event, timeout=None) == summarize(ok, URL)
    bad = execution("FAILED", step("a", "FAILED", reason="disk full"))
    with pytest.raises(OosExecutionFailedError, match="disk full"):
        resolve_trigger_event({**event, "status": "failed", "execution": bad.to_api()}, timeout=None)
    with pytest.raises(OosExecutionPausedError):
        resolve_trigger_event(
            {**event, "status": "paused", "execution": execution("PAUSED").to_api()}, timeout=1
        )
    with pytest.raises(OosExecutionTimeoutError, match="last known state: RUNNING") as timed_out:
        resolve_trigger_event(
            {**event, "status": "timeout", "execution": execution("RUNNING").to_api()}, timeout=9
        )
    assert "9 s" in str(timed_out.value)
    with pytest.raises(OosApiError, match="gave up"):
        resolve_trigger_event(
            {**event, "status": "error", "message": "gave up", "execution": None}, timeout=1
        )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OosApiError("conn refused", status=None), True),
        (OosApiError("bad gateway", status=502), True),
        (OosThrottledError("slow down", status=429), True),
        (OosApiError("bad request", status=400), False),
        (OosAuthError("denied", status=403), False),
        (OosNotFoundError("gone", status=404), False),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(2, n) for n in (1, 2, 3)] == [2, 4, 8]
    assert backoff_seconds(60, 30) == MAX_BACKOFF_SECONDS


def test_validators_name_the_field() -> None:
    assert validate_on_paused("fail") == "fail"
    with pytest.raises(ValueError, match="on_paused"):
        validate_on_paused("ignore")
    assert validate_poll_interval(0.5) == 0.5
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="poll_interval"):
            validate_poll_interval(bad)


def test_progress_reporter_logs_changes_only(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.progress")
    machine = WaitingStateMachine("d-1", URL, poll_interval=1)

    class Reporter:
        def report(self, ex: Execution) -> None:
            log_notes(log, machine.next_action(ex, 0.0).notes)

    reporter = Reporter()
    running = execution("RUNNING", step("stop", "RUNNING"), step("start", "PENDING"), operators=2)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for _ in range(5):  # many polls, same picture: logged once
            reporter.report(running)
        first = len(caplog.records)
        reporter.report(execution("RUNNING", step("stop", "SUCCESS"), step("start", "RUNNING"), operators=2))
        reporter.report(execution("PAUSED", step("stop", "SUCCESS"), step("start", "RUNNING"), operators=2))
        reporter.report(execution("PAUSED", step("stop", "SUCCESS"), step("start", "RUNNING"), operators=2))
        reporter.report(execution("WEIRD", step("stop", "SUCCESS"), step("start", "RUNNING"), operators=2))
        reporter.report(execution("WEIRD", step("stop", "SUCCESS"), step("start", "RUNNING"), operators=2))
    messages = [r.getMessage() for r in caplog.records]
    assert first == 3  # state, 0/2 done, running step
    assert messages[:3] == [
        "OOS execution d-1 is RUNNING.",
        "OOS execution d-1: 0/2 tasks done.",
        "OOS execution d-1: running step 'stop' (BCE::BCC::StopInstance).",
    ]
    assert "OOS execution d-1: 1/2 tasks done." in messages
    assert "OOS execution d-1: running step 'start' (BCE::BCC::StopInstance)." in messages
    pause_warnings = [m for m in messages if "PAUSED" in m and "waits for a person" in m]
    assert len(pause_warnings) == 1 and URL in pause_warnings[0]
    assert len([m for m in messages if "unknown to this provider" in m]) == 1


def machine(**kwargs: Any) -> WaitingStateMachine:
    kwargs.setdefault("poll_interval", 1)
    return WaitingStateMachine("d-1", URL, **kwargs)


def test_transient_errors_back_off_then_give_up_after_five_in_a_row() -> None:
    wait = machine()
    error = OosApiError("bad gateway", status=502)
    actions = [wait.next_action(error, 0.0) for _ in range(4)]
    assert all(isinstance(a, Sleep) and a.execution is None for a in actions)
    assert [a.seconds for a in actions if isinstance(a, Sleep)] == [1, 2, 4, 8]
    assert all(a.notes[0].level == logging.WARNING and "bad gateway" in a.notes[0].message for a in actions)
    last = wait.next_action(error, 0.0)
    assert isinstance(last, Stop) and last.reason is StopReason.API_ERROR and last.error is error
    assert "after 5 failed API call(s) in a row" in last.message and "d-1" in last.message
    assert ErrorTypes().error_for(last) is error  # the worker re-raises the API's own error


def test_a_good_read_resets_the_failure_count_and_permanent_errors_stop_at_once() -> None:
    wait = machine()
    for _ in range(4):
        wait.next_action(OSError("reset"), 0.0)
    assert isinstance(wait.next_action(execution("RUNNING"), 0.0), Sleep)
    again = wait.next_action(OSError("reset"), 0.0)
    assert isinstance(again, Sleep) and again.seconds == 1  # counting starts over
    gone = wait.next_action(OosNotFoundError("no such execution", status=404), 0.0)
    assert isinstance(gone, Stop) and gone.reason is StopReason.API_ERROR
    assert "after 2 failed API call(s) in a row" in gone.message  # no waiting out a 404
    assert gone.execution is not None and gone.execution.state == "RUNNING"  # the last good read


def test_deadline_clamps_the_sleep_then_stops_with_the_last_state() -> None:
    wait = machine(poll_interval=30, deadline=100.0, timeout=60)
    first = wait.next_action(execution("RUNNING"), 90.0)
    assert isinstance(first, Sleep) and first.seconds == 10  # never sleeps past the deadline
    late = wait.next_action(execution("RUNNING"), 100.0)
    assert isinstance(late, Stop) and late.reason is StopReason.TIMEOUT
    assert "within 60 s" in late.message and "last known state: RUNNING" in late.message
    error = ErrorTypes().error_for(late)
    assert isinstance(error, OosExecutionTimeoutError) and error.execution.state == "RUNNING"
    never = machine(deadline=5.0).next_action(OSError("refused"), 6.0)
    assert isinstance(never, Stop) and "last known state: never fetched" in never.message
    assert ErrorTypes().error_for(never).execution.id == "d-1"  # type: ignore[attr-defined]
    done_late = machine(deadline=5.0).next_action(execution("SUCCESS"), 6.0)
    assert isinstance(done_late, Finish)  # a final state read after the deadline still counts


def test_without_keeping_the_last_read_a_stop_still_carries_its_state_and_finish_time() -> None:
    # What the trigger uses: between reads the machine holds the state and finish time, not the read.
    wait = machine(poll_interval=30, deadline=100.0, keep_last_read=False)
    read = Execution.model_validate(
        {
            "id": "d-1",
            "state": "RUNNING",
            "finishedTimestamp": 1_700_000_000_000,
            "tasks": [step("a", "RUNNING")],
        }
    )
    assert isinstance(wait.next_action(read, 90.0), Sleep)
    assert wait._last is None  # the read itself is not kept
    late = wait.next_action(OSError("refused"), 100.0)
    assert isinstance(late, Stop) and late.reason is StopReason.TIMEOUT
    assert "last known state: RUNNING" in late.message
    assert late.execution is not None and late.execution.id == "d-1" and late.execution.state == "RUNNING"
    assert late.execution.finished_timestamp == 1_700_000_000_000 and late.execution.tasks == []
    gone = machine(keep_last_read=False)
    gone.next_action(read, 0.0)
    stop = gone.next_action(OosNotFoundError("no such execution", status=404), 0.0)
    assert isinstance(stop, Stop) and stop.execution is not None and stop.execution.state == "RUNNING"
    # The default keeps the whole read (the worker loop's timeout error carries it).
    kept = machine(poll_interval=30, deadline=100.0)
    kept.next_action(read, 90.0)
    whole = kept.next_action(OSError("refused"), 100.0)
    assert isinstance(whole, Stop) and whole.execution is read


def test_each_pause_begins_once_and_fail_stops_on_it() -> None:
    wait = machine()
    paused = execution("PAUSED", step("approve", "RUNNING"))
    first, second = wait.next_action(paused, 0.0), wait.next_action(paused, 0.0)
    assert isinstance(first, Sleep) and first.paused and first.pause_began
    assert any(URL in n.message and n.level == logging.WARNING for n in first.notes)
    assert isinstance(second, Sleep) and second.paused and not second.pause_began
    assert not any("waits for a person" in n.message for n in second.notes)
    running = wait.next_action(execution("RUNNING", step("approve", "SUCCESS")), 0.0)
    assert isinstance(running, Sleep) and not running.paused
    again = wait.next_action(paused, 0.0)
    assert isinstance(again, Sleep) and again.pause_began
    stop = machine(on_paused="fail").next_action(paused, 0.0)
    assert isinstance(stop, Stop) and stop.reason is StopReason.PAUSED and not stop.needs_log
    assert not any("Still waiting" in n.message for n in stop.notes)


def test_failure_is_described_again_from_the_read_with_logs() -> None:
    polled = execution("FAILED", step("migrate", "FAILED", reason="exit code 3"))
    stop = machine().next_action(polled, 0.0)
    assert isinstance(stop, Stop) and stop.needs_log
    assert "'migrate'" in stop.message and "log line" not in stop.message
    assert any("1/1 tasks finished, 1 failed" in n.message for n in stop.notes)
    logs = [{"msg": f"out {i}"} for i in range(7)]
    detailed = execution("FAILED", step("migrate", "FAILED", reason="exit code 3", log=logs))
    described = failure_with_log(stop, detailed, URL)
    assert "out 6" in described.message and "out 1" not in described.message
    assert described.execution is detailed
    unreadable = failure_with_log(stop, OosApiError("read timed out"), URL)
    assert unreadable.message.startswith(stop.message)
    assert "log could not be read: read timed out" in unreadable.message
    error = ErrorTypes().error_for(unreadable)
    assert isinstance(error, OosExecutionFailedError) and error.execution is polled


def test_error_types_pick_the_drivers_exceptions() -> None:
    class Failed(OosExecutionFailedError):
        pass

    stop = Stop(StopReason.FAILED, "boom", "d-1")
    assert type(ErrorTypes(failed=Failed).error_for(stop)) is Failed
    assert type(ErrorTypes().error_for(Stop(StopReason.API_ERROR, "broken", "d-1"))) is OosApiError


def test_small_trigger_events_resolve_without_any_execution_json() -> None:
    summary = summarize(execution("SUCCESS", step("a", "SUCCESS")), URL)
    event = {
        "status": "success",
        "execution_id": "d-1",
        "state": "SUCCESS",
        "console_url": URL,
        "summary": summary,
    }
    assert resolve_trigger_event(event, timeout=None) == summary
    failed = {**event, "status": "failed", "state": "FAILED", "summary": None, "message": "the full story"}
    with pytest.raises(OosExecutionFailedError) as caught:
        resolve_trigger_event(failed, timeout=None)
    assert str(caught.value) == "the full story"  # described by the trigger, from its withLog read
    assert (caught.value.execution.id, caught.value.execution.state) == ("d-1", "FAILED")
    with pytest.raises(OosExecutionTimeoutError, match="within 30 s; last known state: RUNNING"):
        resolve_trigger_event({**event, "status": "timeout", "state": "RUNNING", "summary": None}, timeout=30)
    with pytest.raises(OosApiError, match="no usable event"):
        resolve_trigger_event({"status": "success", "execution_id": "d-1"}, timeout=None)
