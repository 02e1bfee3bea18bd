"""Tell a person when an OOS execution needs them: it PAUSED, or its maintenance window closed.

The operator and the sensor take Airflow notifiers (``BaseNotifier`` instances, e.g. a Slack or
SMTP notifier) or plain callables; each is called with the task's context plus ``oos_event``,
``oos_execution_id``, ``oos_console_url`` and ``oos_message``. They run in the worker only, never in
the triggerer: in deferrable mode the trigger fires an event, the task notifies in
``execute_complete`` and defers again. `PauseWatch` decides "a new pause" from what was seen
before, so each pause is notified once; its state is one string that survives a deferral.
Cheap to import: no Airflow import at module level.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_oos.client.models import TASK_FINAL_STATES, Execution, is_paused
from airflow_provider_oos.rules.window import describe_window_closed

Notifier = Callable[[Any], Any]
PAUSED_EVENT = "paused"
WINDOW_CLOSED_EVENT = "window_closed"
ATTENTION_STATUS = "attention"  # the trigger event's status for a pause or a window end
_PLAIN_PAUSE = "paused"


def validate_notifiers(value: object, field: str) -> tuple[Notifier, ...]:
    """None, one notifier/callable, or a list of them; TypeError naming the field otherwise."""
    if value is None:
        return ()
    many = isinstance(value, list | tuple)
    items: list[object] = list(value) if isinstance(value, list | tuple) else [value]
    checked: list[Notifier] = []
    for index, item in enumerate(items):
        if not callable(item):
            where = f"{field}[{index}]" if many else field
            raise TypeError(
                f"{where} must be an Airflow notifier (a BaseNotifier instance) or a callable taking the "
                f"task context, got {type(item).__name__} {item!r}."
            )
        checked.append(item)
    return tuple(checked)


def pause_key(execution: Execution) -> str | None:
    """What this pause is: None when not paused; the manual step it waits on, if one; else "paused".

    Two pauses with different keys are two pauses even with no poll in between (a person approves
    one manual step and the next one stops); a step that finishes during a pause does not change
    the key, so it does not look like a new pause.
    """
    if not is_paused(execution.state):
        return None
    for task in execution.tasks:
        if task.operator is not None and task.operator.manually and task.state not in TASK_FINAL_STATES:
            return f"manual step {task.name}"
    return _PLAIN_PAUSE


class PauseWatch:
    """Remembers the last pause seen; `observe` is True once per new pause.

    :param last_key: the key of the pause already notified (from before a deferral), or None.
    """

    def __init__(self, last_key: str | None = None) -> None:
        self.last_key = last_key

    def observe(self, execution: Execution) -> bool:
        key = pause_key(execution)
        new = key is not None and key != self.last_key
        self.last_key = key
        return new


def describe_paused(execution: Execution, console_url: str | None) -> str:
    key = pause_key(execution) or ""
    where = f" at {key}" if key.startswith("manual step") else ""
    link = f" Resume, approve or cancel it in the console: {console_url}" if console_url else ""
    return f"OOS execution {execution.id} is PAUSED{where} and waits for a person.{link}"


class TriggerAttention:
    """What a trigger fires besides the outcome: a new pause (only when the task has pause
    callbacks) or the window end while the execution runs. Pure; the task does the notifying.

    :param stop_on_pause: fire an event on each new pause.
    :param last_pause_key: the pause the task already notified (see `pause_key`).
    :param window_end: epoch seconds when the window closes; None: not watched (or reported).
    """

    def __init__(self, stop_on_pause: bool, last_pause_key: str | None, window_end: float | None) -> None:
        self.stop_on_pause = stop_on_pause
        self.pauses = PauseWatch(last_pause_key) if stop_on_pause else None
        self.window_end = window_end

    def kwargs(self) -> dict[str, Any]:
        """The trigger kwargs to serialize: only the ones set, so a plain wait's row stays as it was."""
        values: dict[str, Any] = {"stop_on_pause": self.stop_on_pause, "window_end": self.window_end}
        if self.pauses is not None:
            values["last_pause_key"] = self.pauses.last_key
        return {key: value for key, value in values.items() if value not in (None, False)}

    def sleep_seconds(self, delay: float, now: float) -> float:
        """Wake up at the window end to report it on time."""
        return delay if self.window_end is None else max(0.0, min(delay, self.window_end - now))

    def check(self, execution: Execution, now: float, console_url: str | None) -> dict[str, Any] | None:
        """The event fields when `execution` (not final) needs a person now, else None."""
        if self.pauses is not None and self.pauses.observe(execution):
            kind, message = PAUSED_EVENT, describe_paused(execution, console_url)
        elif self.window_end is not None and now >= self.window_end:
            end = datetime.fromtimestamp(self.window_end, timezone.utc)
            at = datetime.fromtimestamp(now, timezone.utc)
            kind, message = (
                WINDOW_CLOSED_EVENT,
                describe_window_closed(execution.id, end, at, execution.state, console_url),
            )
            self.window_end = None  # reported
        else:
            return None
        return {
            "status": ATTENTION_STATUS,
            "attention": kind,
            "message": message,
            "pause_key": self.pauses.last_key if self.pauses is not None else None,
            "window_end": self.window_end,
        }


def _fresh(notifier: Notifier) -> Notifier:
    """A BaseNotifier renders its templated fields in place, once; copy it so every call renders.

    Known by what it does (``render_template_fields``), so these rules need no Airflow import."""
    return copy.copy(notifier) if hasattr(notifier, "render_template_fields") else notifier


def send_notifications(
    notifiers: tuple[Notifier, ...],
    context: Mapping[str, Any],
    *,
    event: str,
    execution_id: str,
    console_url: str | None,
    message: str,
    log: logging.Logger | Any,
) -> int:
    """Call each notifier once with the context and the OOS details; return how many succeeded.

    A failing notifier is logged and skipped: a broken chat hook must not fail the maintenance run
    (the same rule Airflow applies to callbacks).
    """
    if not notifiers:
        return 0
    details = {
        "oos_event": event,
        "oos_execution_id": execution_id,
        "oos_console_url": console_url,
        "oos_message": message,
    }
    log.info("Notifying %d notifier(s) (%s) about OOS execution %s.", len(notifiers), event, execution_id)
    sent = 0
    for notifier in notifiers:
        try:
            _fresh(notifier)({**context, **details})
        except Exception as err:
            log.error("Notifier %r failed (%s); the task goes on.", notifier, err)
        else:
            sent += 1
    return sent
