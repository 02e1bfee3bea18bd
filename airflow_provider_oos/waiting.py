"""The one place for waiting on an OOS execution, shared by the operator, the sensor and the trigger.

What is final, what is success, how a failure is told to a person, what a progress log says and
which API errors are worth riding out: all decided here, so the three waiting paths (worker loop,
sensor poke, triggerer) cannot drift apart. Pure functions plus one small stateful reporter; no
Airflow, no HTTP.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
    OosNotFoundError,
)
from airflow_provider_oos.models import (
    TASK_FINAL_STATES,
    Execution,
    is_failed,
    is_known,
    is_paused,
    is_successful,
)

ON_PAUSED_CHOICES = ("wait", "fail")
LOG_TAIL_LINES = 5
# The trigger gives up after this many API failures in a row (each already retried by the hook).
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
        "tasks": {
            task.name: {"state": task.state, "outputs": dict(task.output_context or {})}
            for task in execution.tasks
        },
    }


def _log_tail(messages: list[str]) -> str:
    tail = messages[-LOG_TAIL_LINES:]
    return "\n".join("    " + line.replace("\n", "\n      ") for line in tail)


def describe_failure(execution: Execution, console_url: str | None = None) -> str:
    """Names the execution, its state, the failing step, the step's reason and its last log lines."""
    lines = [f"OOS execution {execution.id} ended in state {execution.state}."]
    task = execution.failed_task()
    if task is None:
        lines.append("No failed step was reported (the execution may have been canceled or rolled back).")
    else:
        action = task.operator.operator if task.operator and task.operator.operator else "unknown action"
        lines.append(f"Failing step: {task.name!r} ({action}), state {task.state}.")
        lines.append(f"Reason: {task.reason or 'not given by OOS'}")
        messages = [entry.msg for entry in task.log or () if entry.msg]
        if messages:
            lines.append(f"Last {min(len(messages), LOG_TAIL_LINES)} log line(s) of the step:")
            lines.append(_log_tail(messages))
    if console_url:
        lines.append(f"Console: {console_url}")
    return "\n".join(lines)


def describe_pause(execution: Execution, console_url: str | None = None) -> str:
    step = next((t.name for t in execution.tasks if t.state not in TASK_FINAL_STATES), None)
    where = f" at step {step!r}" if step else ""
    link = f" Resume or cancel it in the console: {console_url}" if console_url else ""
    return f"OOS execution {execution.id} is PAUSED{where} and waits for a person.{link}"


def describe_timeout(
    execution_id: str, timeout: float | None, state: str | None, console_url: str | None
) -> str:
    link = f" It keeps running in OOS: {console_url}" if console_url else " It keeps running in OOS."
    limit = f" within {timeout:g} s" if timeout is not None else ""
    return (
        f"OOS execution {execution_id} did not reach a final state{limit}; "
        f"last known state: {state or 'never fetched'}.{link}"
    )


def settle(
    execution: Execution,
    *,
    on_paused: str,
    console_url: str,
    failed_error: type[OosExecutionFailedError] = OosExecutionFailedError,
    paused_error: type[OosExecutionPausedError] = OosExecutionPausedError,
) -> dict[str, Any] | None:
    """Apply the outcome rules: the summary on success, raise on failure (or pause when
    on_paused="fail"), None when the caller should keep waiting."""
    outcome = classify(execution)
    if outcome is Outcome.SUCCESS:
        return summarize(execution, console_url)
    if outcome is Outcome.FAILED:
        raise failed_error(describe_failure(execution, console_url), execution)
    if outcome is Outcome.PAUSED and on_paused == "fail":
        raise paused_error(describe_pause(execution, console_url), execution)
    return None


def timeout_error(
    execution_id: str,
    timeout: float | None,
    last: Execution | None,
    console_url: str | None,
    error: type[OosExecutionTimeoutError] = OosExecutionTimeoutError,
) -> OosExecutionTimeoutError:
    state = last.state if last else None
    execution = last or Execution(id=execution_id)
    return error(describe_timeout(execution_id, timeout, state, console_url), execution)


def resolve_event(
    event: dict[str, Any],
    *,
    on_paused: str,
    timeout: float | None,
    failed_error: type[OosExecutionFailedError] = OosExecutionFailedError,
    paused_error: type[OosExecutionPausedError] = OosExecutionPausedError,
    timeout_error_type: type[OosExecutionTimeoutError] = OosExecutionTimeoutError,
) -> dict[str, Any]:
    """Turn the trigger's one event into the summary or the same exception the worker loop raises."""
    status = event.get("status")
    execution_id = str(event.get("execution_id"))
    console_url = str(event.get("console_url") or "")
    raw = event.get("execution")
    execution = Execution.model_validate(raw) if isinstance(raw, dict) else None
    if status == "timeout":
        raise timeout_error(execution_id, timeout, execution, console_url, timeout_error_type)
    if status == "error" or execution is None:
        raise OosApiError(str(event.get("message") or f"no usable event for OOS execution {execution_id}"))
    if status == "paused":  # the trigger only stops on a pause when on_paused="fail"
        on_paused = "fail"
    summary = settle(
        execution,
        on_paused=on_paused,
        console_url=console_url,
        failed_error=failed_error,
        paused_error=paused_error,
    )
    if summary is None:
        raise OosApiError(f"trigger event {status!r} for OOS execution {execution_id} has a non-final state")
    return summary


def is_transient(error: BaseException) -> bool:
    """Worth another try later: connection errors, timeouts, throttling and 5xx; never auth or not-found."""
    if isinstance(error, OosAuthError | OosNotFoundError):
        return False
    if isinstance(error, OosApiError):
        return error.status is None or error.status == 429 or error.status >= 500
    return isinstance(error, OSError | TimeoutError)


def backoff_seconds(poll_interval: float, consecutive_failures: int) -> float:
    """Exponential backoff from the poll interval, capped."""
    return float(min(poll_interval * 2 ** max(consecutive_failures - 1, 0), MAX_BACKOFF_SECONDS))


def compact_execution(execution: Execution) -> dict[str, Any]:
    """The execution as API JSON with each step's log cut to its tail, small enough for a trigger event."""
    data = execution.to_api()

    def trim(tasks: list[dict[str, Any]]) -> None:
        for task in tasks:
            if isinstance(task.get("log"), list):
                task["log"] = task["log"][-LOG_TAIL_LINES:]
            trim(task.get("children") or [])

    trim(data.get("tasks") or [])
    return data


def validate_on_paused(on_paused: object) -> str:
    if on_paused not in ON_PAUSED_CHOICES:
        raise ValueError(f"on_paused must be 'wait' or 'fail', got {on_paused!r}.")
    return str(on_paused)


def validate_poll_interval(poll_interval: object, field: str = "poll_interval") -> float:
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
        raise ValueError(f"{field} must be a number of seconds greater than 0, got {poll_interval!r}.")
    return float(poll_interval)


class ProgressReporter:
    """Logs what a person following the run wants to know, only when it changes: the state,
    "n/m tasks done", the step now running; warns once per pause and once per unknown state."""

    def __init__(self, log: logging.Logger | Any, execution_id: str, console_url: str | None = None) -> None:
        self.log = log
        self.execution_id = execution_id
        self.console_url = console_url
        self._state: str | None = None
        self._done: tuple[int, int] | None = None
        self._step: str | None = None
        self._pause_warned = False
        self._unknown_seen: set[str] = set()

    def report(self, execution: Execution) -> None:
        state = execution.state
        if state != self._state:
            self._state = state
            self.log.info("OOS execution %s is %s.", self.execution_id, state)
        total = len(execution.tasks)
        if execution.template and execution.template.operators:
            total = max(total, len(execution.template.operators))
        done = sum(1 for task in execution.tasks if task.state in TASK_FINAL_STATES)
        if total and (done, total) != self._done:
            self._done = (done, total)
            self.log.info("OOS execution %s: %d/%d tasks done.", self.execution_id, done, total)
        running = execution.running_task()
        step = running.name if running else None
        if step != self._step:
            self._step = step
            if running is not None:
                action = running.operator.operator if running.operator else None
                self.log.info("OOS execution %s: running step %r (%s).", self.execution_id, step, action)
        outcome = classify(execution)
        if outcome is Outcome.PAUSED:
            if not self._pause_warned:
                self._pause_warned = True
                self.log.warning(
                    "%s Still waiting (on_paused='wait').", describe_pause(execution, self.console_url)
                )
        else:
            self._pause_warned = False  # a later pause gets its own warning
        if outcome is Outcome.UNKNOWN and str(state) not in self._unknown_seen:
            self._unknown_seen.add(str(state))
            self.log.warning(
                "OOS execution %s reports state %r, unknown to this provider; treating it as not final.",
                self.execution_id,
                state,
            )
