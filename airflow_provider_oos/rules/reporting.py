"""What a person reads about a wait on an OOS execution: progress lines while it runs, and the
description of how it ended (failure, pause, timeout).

Progress lines stay short, so the Airflow log view does not cut them; the console link comes once
per pause, at the end of its line. Pure: no Airflow, no HTTP, no logging.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from airflow_provider_oos.client.models import TASK_FINAL_STATES, Execution, Task

LOG_TAIL_LINES = 5


class Note(NamedTuple):
    """One progress line for the driver's logger.

    :param level: a `logging` level.
    :param message: the line.
    """

    level: int
    message: str


def _failing_step(execution: Execution) -> Task | None:
    """The top-level step that failed: its own FAILED first, then one holding a failed child, then
    an UPSTREAM_FAILED one (the execution was canceled or rolled back around it)."""
    tops = execution.tasks
    return (
        next((t for t in tops if t.state == "FAILED"), None)
        or next((t for t in tops if any(c.state == "FAILED" for c in t.walk()[1:])), None)
        or next((t for t in tops if t.state == "UPSTREAM_FAILED"), None)
    )


def _failing_child(step: Task) -> Task | None:
    """The deepest failed loop iteration under `step`, following the first failed child down."""
    found: Task | None = None
    node = step
    while True:
        child = next((c for c in node.children or () if c.state == "FAILED"), None)
        if child is None:
            return found
        found = node = child


def _instance_of(task: Task) -> str | None:
    """The instance a loop iteration worked on, where OOS says it: `instanceId`, `instance` or a
    one-element `instances` in the task's init context, context or outputs (the shape is not published)."""
    for data in (task.init_context, task.context, task.output_context):
        if not isinstance(data, Mapping):
            continue
        value: Any = data.get("instanceId") or data.get("instance")
        instances = data.get("instances")
        if value is None and isinstance(instances, list) and len(instances) == 1:
            value = instances[0]
        if isinstance(value, Mapping):
            value = value.get("instanceId") or value.get("id") or value.get("name")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _log_lines(task: Task, whose: str) -> list[str]:
    """The task's last log lines, indented under a heading; none when OOS sent no log."""
    tail = [entry.msg for entry in task.log or () if entry.msg][-LOG_TAIL_LINES:]
    if not tail:
        return []
    return [f"Last {len(tail)} log line(s) of the {whose}:"] + [
        "    " + m.replace("\n", "\n      ") for m in tail
    ]


def _error_code(code: object) -> str:
    return f", errorCode {code}" if code not in (None, "") else ""


def describe_failure(execution: Execution, console_url: str | None = None) -> str:
    """Names the execution, its state, the failing step (its action, reason and errorCode), the
    failing loop iteration where the step has children (loopIndex, instance) and the last log lines."""
    lines = [f"OOS execution {execution.id} ended in state {execution.state}."]
    if execution.reason or execution.error_code:
        lines.append(f"OOS says: {execution.reason or 'no reason given'}{_error_code(execution.error_code)}.")
    step = _failing_step(execution)
    if step is None:
        lines.append("No failed step was reported (the execution may have been canceled or rolled back).")
    else:
        action = step.operator.operator if step.operator and step.operator.operator else "unknown action"
        lines.append(
            f"Failing step: {step.name!r} ({action}), state {step.state}{_error_code(step.error_code)}."
        )
        lines.append(f"Reason: {step.reason or 'not given by OOS'}")
        lines.extend(_log_lines(step, "step"))
        child = _failing_child(step)
        if child is not None:
            instance = _instance_of(child)
            where = f"loopIndex {child.loop_index}" if child.loop_index is not None else f"task {child.id}"
            lines.append(
                f"Failing iteration: {where}{f', instance {instance}' if instance else ''}, "
                f"state {child.state}{_error_code(child.error_code)}."
            )
            if child.reason and child.reason != step.reason:
                lines.append(f"Iteration reason: {child.reason}")
            lines.extend(_log_lines(child, "iteration"))
    if console_url:
        lines.append(f"Console: {console_url}")
    return "\n".join(lines)


def manual_step(execution: Execution) -> str | None:
    """The manual step (``manually: true``) an execution waits on for a person's approval, if any."""
    for task in execution.tasks:
        if task.operator is not None and task.operator.manually and task.state not in TASK_FINAL_STATES:
            return task.name
    return None


def _unfinished_step(execution: Execution) -> str | None:
    return next((t.name for t in execution.tasks if t.state not in TASK_FINAL_STATES), None)


def describe_pause(execution: Execution, console_url: str | None = None) -> str:
    """Why a PAUSED execution waits: at a manual step, or paused by hand with a step unfinished;
    and where a person acts on it. The one description, for a failed wait and a notification."""
    manual = manual_step(execution)
    step = None if manual else _unfinished_step(execution)
    where = f" at manual step {manual}" if manual else ""
    unfinished = f" (step {step!r} not finished)" if step else ""
    link = f" Resume, approve or cancel it in the console: {console_url}" if console_url else ""
    return f"OOS execution {execution.id} is PAUSED{where} and waits for a person{unfinished}.{link}"


def describe_timeout(
    execution_id: str, timeout: float | None, state: str | None, console_url: str | None
) -> str:
    link = f" It keeps running in OOS: {console_url}" if console_url else " It keeps running in OOS."
    limit = f" within {timeout:g} s" if timeout is not None else ""
    return (
        f"OOS execution {execution_id} did not reach a final state{limit}; "
        f"last known state: {state or 'never fetched'}.{link}"
    )


class ProgressTracker:
    """Progress lines of one wait, each written only when what it says changes: the state, how many
    tasks finished (and how many failed), the step now running; an unknown state once.

    :param execution_id: the awaited execution (``d-…``), named in every line.
    """

    __slots__ = ("_state", "_step", "_tasks", "_unknown_seen", "execution_id")

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self._state: str | None = None
        self._tasks: tuple[int, int, int, int] | None = None
        self._step: str | None = None
        self._unknown_seen: set[str] | None = None  # made on the first unknown state: most waits see none

    def notes(self, execution: Execution, *, unknown: bool = False) -> tuple[Note, ...]:
        """The lines this read adds; `unknown` marks a state this provider does not know."""
        notes: list[Note] = []
        name = self.execution_id
        state = execution.state
        if state != self._state:
            self._state = state
            notes.append(Note(logging.INFO, f"OOS execution {name} is {state}."))
        counts = _task_counts(execution)
        if counts[1] and counts != self._tasks:
            self._tasks = counts
            notes.append(Note(logging.INFO, _tasks_line(name, *counts)))
        running = execution.running_task()
        step = running.name if running else None
        if step != self._step:
            self._step = step
            if running is not None:
                action = running.operator.operator if running.operator else None
                notes.append(Note(logging.INFO, f"OOS execution {name}: running step {step!r} ({action})."))
        if unknown:
            seen = self._unknown_seen = self._unknown_seen or set()
            if str(state) not in seen:
                seen.add(str(state))
                text = f"OOS execution {name}: state {state!r} is unknown to this provider; waiting on."
                notes.append(Note(logging.WARNING, text))
        return tuple(notes)

    def pause_notes(self, execution: Execution, console_url: str | None) -> tuple[Note, ...]:
        """Said once when a pause begins and the wait goes on: where it waits, the link to resume it."""
        step = _unfinished_step(execution)
        where = f" at step {step!r}" if step else ""
        link = f": {console_url}" if console_url else "."
        return (
            Note(
                logging.WARNING,
                f"OOS execution {self.execution_id} is PAUSED{where}, waits for a person{link}",
            ),
            Note(logging.INFO, "Still waiting (on_paused='wait'); resume or cancel it in the OOS console."),
        )


def _task_counts(execution: Execution) -> tuple[int, int, int, int]:
    """Finished, total, failed and upstream-failed top-level tasks."""
    total = len(execution.tasks)
    if execution.template and execution.template.operators:
        total = max(total, len(execution.template.operators))
    finished = failed = upstream_failed = 0
    for task in execution.tasks:
        if task.state in TASK_FINAL_STATES:
            finished += 1
            failed += task.state == "FAILED"
            upstream_failed += task.state == "UPSTREAM_FAILED"
    return finished, total, failed, upstream_failed


def _tasks_line(name: str, finished: int, total: int, failed: int, upstream_failed: int) -> str:
    # "done" only when nothing failed: "2/2 tasks done" after a failure reads like success.
    if not failed and not upstream_failed:
        return f"OOS execution {name}: {finished}/{total} tasks done."
    not_run = f", {upstream_failed} not run (upstream failed)" if upstream_failed else ""
    return f"OOS execution {name}: {finished}/{total} tasks finished, {failed} failed{not_run}."
