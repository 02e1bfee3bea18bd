"""The one waiting state machine for an OOS execution, driven by the operator, the sensor and the trigger.

`WaitingStateMachine.next_action` takes one observation (the Execution just read, or the error the
read raised) and the time, and returns what to do next:

- `Sleep`: read again in `seconds` (a running or paused execution, or an API error worth riding out);
- `Finish`: the execution succeeded, here is the summary;
- `Stop`: raise (failed, paused with ``on_paused="fail"``, timed out, or the API cannot be read).

Every action carries the progress lines (`Note`) the driver logs. What is final, what is success,
how a failure reads, the backoff after API errors and the deadline are decided here only, so the
worker loop, the trigger loop and the sensor cannot drift apart. Pure: no Airflow, no HTTP, no clock
(the driver passes `now`), no logging.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from airflow_provider_oos.client.models import (
    Execution,
    is_failed,
    is_known,
    is_paused,
    is_successful,
)
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
)
from airflow_provider_oos.rules.reporting import (
    Note,
    ProgressTracker,
    describe_failure,
    describe_pause,
    describe_timeout,
)

ON_PAUSED_CHOICES = ("wait", "fail")
# A wait gives up after this many API failures in a row (each already retried by the hook).
MAX_CONSECUTIVE_API_FAILURES = 5
MAX_BACKOFF_SECONDS = 300.0


class Outcome(str, Enum):
    """What an execution's state means for whoever waits on it."""

    SUCCESS = "success"
    FAILED = "failed"
    PAUSED = "paused"
    WAITING = "waiting"  # PENDING, RUNNING, ROLLBACK: not final yet
    UNKNOWN = "unknown"  # a state this provider does not know: not final, keep waiting


def classify(execution: Execution) -> Outcome:
    state = execution.state
    if is_successful(state):
        return Outcome.SUCCESS
    if is_failed(state):
        return Outcome.FAILED
    if is_paused(state):
        return Outcome.PAUSED
    if is_known(state):
        return Outcome.WAITING
    return Outcome.UNKNOWN


def summarize(execution: Execution, console_url: str) -> dict[str, Any]:
    """The small JSON summary returned as XCom: id, state, console URL, each step's state and outputs."""
    return {
        "execution_id": execution.id,
        "state": execution.state,
        "console_url": console_url,
        "tasks": {task.name: {"state": task.state, "outputs": task.outputs} for task in execution.tasks},
    }


def backoff_seconds(poll_interval: float, consecutive_failures: int) -> float:
    """Exponential backoff from the poll interval, capped."""
    return float(min(poll_interval * 2 ** max(consecutive_failures - 1, 0), MAX_BACKOFF_SECONDS))


def validate_on_paused(on_paused: object) -> str:
    if on_paused not in ON_PAUSED_CHOICES:
        raise ValueError(f"on_paused must be 'wait' or 'fail', got {on_paused!r}.")
    return str(on_paused)


def validate_poll_interval(poll_interval: object, field: str = "poll_interval") -> float:
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
        raise ValueError(f"{field} must be a number of seconds greater than 0, got {poll_interval!r}.")
    return float(poll_interval)


def log_notes(log: Any, notes: Sequence[Note]) -> None:
    """Write an action's progress lines to the driver's logger."""
    for level, message in notes:
        log.log(level, "%s", message)


@dataclass(frozen=True)
class Sleep:
    """Read the execution again after `seconds`.

    :param seconds: how long to wait before the next read (already clamped to the deadline).
    :param execution: what this read saw; None when the read failed (a transient API error).
    :param paused: the execution is PAUSED and the wait goes on (``on_paused="wait"``).
    :param pause_began: this read is the first of a pause (a later pause gets its own True).
    :param notes: progress lines to log.
    """

    seconds: float
    execution: Execution | None
    paused: bool = False
    pause_began: bool = False
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Finish:
    """The execution succeeded.

    :param summary: the XCom summary (see `summarize`).
    :param execution: the final read.
    :param notes: progress lines to log.
    """

    summary: dict[str, Any]
    execution: Execution
    notes: tuple[Note, ...] = ()


class StopReason(str, Enum):
    """Why a wait ends without success; the values are the trigger event's `status`."""

    FAILED = "failed"
    PAUSED = "paused"
    TIMEOUT = "timeout"
    API_ERROR = "error"


@dataclass(frozen=True)
class Stop:
    """End the wait with an error.

    :param reason: failed, paused, timed out, or the API cannot be read.
    :param message: what a person needs to know, naming the execution.
    :param execution_id: the awaited execution.
    :param execution: the last read (None when no read ever succeeded).
    :param error: the API error that ended the wait (API_ERROR only).
    :param notes: progress lines to log.
    """

    reason: StopReason
    message: str
    execution_id: str
    execution: Execution | None = None
    error: BaseException | None = None
    notes: tuple[Note, ...] = ()

    @property
    def needs_log(self) -> bool:
        """A failure is described from one more read with logs (polls read without them)."""
        return self.reason is StopReason.FAILED


WaitAction = Sleep | Finish | Stop


def failure_with_log(stop: Stop, detailed: Execution | BaseException, console_url: str) -> Stop:
    """The failure described from the read made with logs, or, when that read failed, from what is
    known with a line saying why the log tail is missing."""
    if isinstance(detailed, Execution):
        return replace(stop, message=describe_failure(detailed, console_url), execution=detailed)
    return replace(stop, message=f"{stop.message}\nThe step's log could not be read: {detailed}")


@dataclass(frozen=True)
class ErrorTypes:
    """The exception classes a driver raises for each `Stop` (the sensor uses Airflow-aware ones).

    :param failed: for a failed execution.
    :param paused: for a pause with ``on_paused="fail"``.
    :param timeout: for a wait past its deadline.
    """

    failed: type[OosExecutionFailedError] = OosExecutionFailedError
    paused: type[OosExecutionPausedError] = OosExecutionPausedError
    timeout: type[OosExecutionTimeoutError] = OosExecutionTimeoutError

    def error_for(self, stop: Stop) -> BaseException:
        if stop.reason is StopReason.API_ERROR:
            return stop.error or OosApiError(stop.message)
        execution = stop.execution or Execution(id=stop.execution_id)
        kind = {StopReason.FAILED: self.failed, StopReason.PAUSED: self.paused}.get(stop.reason, self.timeout)
        return kind(stop.message, execution)


class WaitingStateMachine:
    """Decides, one observation at a time, what a wait on one OOS execution does next.

    :param execution_id: the awaited execution (``d-…``).
    :param console_url: its console link, named in messages.
    :param poll_interval: seconds between reads of an execution that is not final.
    :param on_paused: ``"wait"`` (warn once per pause, keep waiting) or ``"fail"`` (stop).
    :param deadline: when to give up, on the clock of the `now` passed to `next_action`; None waits
        forever.
    :param timeout: the wait's limit in seconds, only to name it in the timeout message.
    :param max_consecutive_failures: API failures in a row (each already retried by the hook) after
        which the wait gives up.
    :param keep_last_read: keep the whole last Execution read, for a timeout or an API error to
        carry; False keeps only its state and finish time (the trigger's events carry no more), so
        thousands of waits sleeping between reads do not each hold a parsed execution.
    """

    __slots__ = (
        "_failures",
        "_last",
        "_last_seen",
        "_paused",
        "_progress",
        "console_url",
        "deadline",
        "execution_id",
        "keep_last_read",
        "max_consecutive_failures",
        "on_paused",
        "poll_interval",
        "timeout",
    )

    def __init__(
        self,
        execution_id: str,
        console_url: str,
        *,
        poll_interval: float,
        on_paused: str = "wait",
        deadline: float | None = None,
        timeout: float | None = None,
        max_consecutive_failures: int = MAX_CONSECUTIVE_API_FAILURES,
        keep_last_read: bool = True,
    ) -> None:
        self.execution_id = execution_id
        self.console_url = console_url
        self.poll_interval = validate_poll_interval(poll_interval)
        self.on_paused = validate_on_paused(on_paused)
        self.deadline = deadline
        self.timeout = timeout
        self.max_consecutive_failures = max_consecutive_failures
        self.keep_last_read = keep_last_read
        self._progress = ProgressTracker(execution_id)
        self._failures = 0
        self._last: Execution | None = None  # the whole last read, when kept
        self._last_seen: tuple[str | None, int | None] | None = None  # its state and finish time
        self._paused = False

    def next_action(self, observation: Execution | BaseException, now: float) -> WaitAction:
        """What to do after reading `observation` (the execution, or the error the read raised) at `now`."""
        if isinstance(observation, BaseException):
            return self._after_error(observation, now)
        return self._after_read(observation, now)

    def _after_read(self, execution: Execution, now: float) -> WaitAction:
        self._failures = 0
        self._last_seen = (execution.state, execution.finished_timestamp)
        if self.keep_last_read:
            self._last = execution
        outcome = classify(execution)
        notes = self._progress.notes(execution, unknown=outcome is Outcome.UNKNOWN)
        paused = outcome is Outcome.PAUSED
        pause_began = paused and not self._paused
        self._paused = paused
        if outcome is Outcome.SUCCESS:
            return Finish(summarize(execution, self.console_url), execution, notes)
        if outcome is Outcome.FAILED:
            message = describe_failure(execution, self.console_url)
            return Stop(StopReason.FAILED, message, self.execution_id, execution, notes=notes)
        if paused and self.on_paused == "fail":
            message = describe_pause(execution, self.console_url)
            return Stop(StopReason.PAUSED, message, self.execution_id, execution, notes=notes)
        if pause_began:
            notes = (*notes, *self._progress.pause_notes(execution, self.console_url))
        return self._sleep(self.poll_interval, now, notes, execution, paused, pause_began)

    def _after_error(self, error: BaseException, now: float) -> WaitAction:
        # Imported here: the transport pulls in the HTTP stack, which the trigger loads off its event loop.
        from airflow_provider_oos.client.retry import is_transient

        self._failures += 1
        if not is_transient(error) or self._failures >= self.max_consecutive_failures:
            message = (
                f"Giving up on OOS execution {self.execution_id} after {self._failures} failed "
                f"API call(s) in a row: {error}"
            )
            return Stop(StopReason.API_ERROR, message, self.execution_id, self._last_known(), error)
        delay = backoff_seconds(self.poll_interval, self._failures)
        note = Note(
            logging.WARNING,
            f"Could not read OOS execution {self.execution_id} ({error}); retry in {delay:g} s.",
        )
        return self._sleep(delay, now, (note,), None, False, False)

    def _last_known(self) -> Execution | None:
        """The last read: whole, or (``keep_last_read=False``) rebuilt from its state and finish time."""
        if self._last is not None or self._last_seen is None:
            return self._last
        state, finished = self._last_seen
        return Execution(id=self.execution_id, state=state, finished_timestamp=finished)

    def _sleep(
        self,
        delay: float,
        now: float,
        notes: tuple[Note, ...],
        execution: Execution | None,
        paused: bool,
        pause_began: bool,
    ) -> WaitAction:
        if self.deadline is not None:
            remaining = self.deadline - now
            if remaining <= 0:
                state = self._last_seen[0] if self._last_seen else None
                message = describe_timeout(self.execution_id, self.timeout, state, self.console_url)
                return Stop(StopReason.TIMEOUT, message, self.execution_id, self._last_known(), notes=notes)
            delay = min(delay, remaining)
        return Sleep(delay, execution, paused, pause_began, notes)


def _event_execution(event: Mapping[str, Any], execution_id: str) -> Execution:
    """What an event tells of the execution: its id and state (events of earlier versions of this
    provider carried the whole execution)."""
    raw = event.get("execution")
    if isinstance(raw, dict):
        return Execution.model_validate(raw)
    state = event.get("state")
    return Execution(id=execution_id, state=state if isinstance(state, str) else None)


def resolve_trigger_event(
    event: Mapping[str, Any], *, timeout: float | None, errors: ErrorTypes = ErrorTypes()
) -> dict[str, Any]:
    """Turn the trigger's one event into the summary, or raise what the worker loop would raise.

    The trigger describes a failure from its read with logs, so the event's message is used as is.

    :param event: the trigger event's payload.
    :param timeout: the task's wait limit in seconds, named in the timeout message.
    :param errors: the exception classes to raise.
    """
    status = event.get("status")
    execution_id = str(event.get("execution_id"))
    console_url = str(event.get("console_url") or "")
    if status == "success":
        summary = event.get("summary")
        if isinstance(summary, dict):
            return summary
        if isinstance(event.get("execution"), dict):
            return summarize(_event_execution(event, execution_id), console_url)
    if status not in {"failed", "paused", "timeout"}:
        raise OosApiError(str(event.get("message") or f"no usable event for OOS execution {execution_id}"))
    known = _event_execution(event, execution_id)
    message = event.get("message")
    if status == "failed":
        stop = Stop(
            StopReason.FAILED, str(message or describe_failure(known, console_url)), execution_id, known
        )
    elif status == "paused":
        stop = Stop(
            StopReason.PAUSED, str(message or describe_pause(known, console_url)), execution_id, known
        )
    else:
        text = describe_timeout(execution_id, timeout, known.state, console_url)
        stop = Stop(StopReason.TIMEOUT, text, execution_id, known)
    raise errors.error_for(stop)
