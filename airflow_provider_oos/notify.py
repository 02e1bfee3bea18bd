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
from typing import Any

from airflow_provider_oos.models import TASK_FINAL_STATES, Execution, is_paused

Notifier = Callable[[Any], Any]
PAUSED_EVENT = "paused"
WINDOW_CLOSED_EVENT = "window_closed"
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


def _fresh(notifier: Notifier) -> Notifier:
    """A BaseNotifier renders its templated fields in place, once; copy it so every call renders."""
    try:
        from airflow.sdk import BaseNotifier
    except ImportError:  # pragma: no cover - every supported Airflow has it
        return notifier
    return copy.copy(notifier) if isinstance(notifier, BaseNotifier) else notifier


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
