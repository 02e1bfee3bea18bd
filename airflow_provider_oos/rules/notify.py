"""Tell a person when an OOS execution needs them: it PAUSED, or its maintenance window closed.

The operator and the sensor take Airflow notifiers (``BaseNotifier`` instances, e.g. a Slack or
SMTP notifier) or plain callables; each is called with the task's context plus ``oos_event``,
``oos_execution_id``, ``oos_console_url`` and ``oos_message``. They run in the worker only, never in
the triggerer: in deferrable mode the trigger fires an event, the task notifies in
``execute_complete`` and defers again. `AttentionWatch` decides when an execution needs a person
(each pause once, the window end once), for both; its state survives a deferral.
Cheap to import: no Airflow import at module level.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from airflow_provider_oos.client.models import Execution, is_paused
from airflow_provider_oos.rules.reporting import describe_pause, manual_step
from airflow_provider_oos.rules.window import WindowWatch, describe_window_closed

Notifier = Callable[[Any], Any]
# What a task's callback parameter takes: one notifier or callable, a list of them, or None.
NotifierArg = Notifier | Sequence[Notifier] | None
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
    manual = manual_step(execution)
    return f"manual step {manual}" if manual is not None else _PLAIN_PAUSE


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


class AttentionNeed(NamedTuple):
    """One reason an execution needs a person now.

    :param event: ``PAUSED_EVENT`` or ``WINDOW_CLOSED_EVENT``.
    :param message: what to tell them.
    """

    event: str
    message: str


class AttentionWatch:
    """The one rule for when a not-final execution needs a person: a new pause (reported only when
    someone is to be told), or its maintenance window closing while it runs. Pure: the worker
    notifies what it reports, the trigger fires it as an event; its state survives a deferral.

    :param watch_pauses: report new pauses (pauses are tracked either way).
    :param last_pause_key: the pause already reported (see `pause_key`), or None.
    :param window_end: when the window closes; None: not watched, or already reported.
    """

    def __init__(
        self, *, watch_pauses: bool, last_pause_key: str | None = None, window_end: datetime | None = None
    ) -> None:
        self.watch_pauses = watch_pauses
        self.pauses = PauseWatch(last_pause_key)
        self.window = WindowWatch(window_end)

    @classmethod
    def from_trigger_kwargs(
        cls, stop_on_pause: bool, last_pause_key: str | None, window_end: float | None
    ) -> AttentionWatch:
        """The watch a trigger carries, from its serialized kwargs (``window_end`` in epoch seconds)."""
        end = datetime.fromtimestamp(window_end, timezone.utc) if window_end is not None else None
        return cls(watch_pauses=stop_on_pause, last_pause_key=last_pause_key, window_end=end)

    def trigger_kwargs(self) -> dict[str, Any]:
        """The trigger kwargs to serialize: only the ones set, so a plain wait's row stays as it was."""
        end = self.window.window_end
        values: dict[str, Any] = {
            "stop_on_pause": self.watch_pauses,
            "last_pause_key": self.pauses.last_key if self.watch_pauses else None,
            "window_end": end.timestamp() if end is not None and not self.window.warned else None,
        }
        return {key: value for key, value in values.items() if value not in (None, False)}

    def next_need(self, execution: Execution, now: datetime, console_url: str | None) -> AttentionNeed | None:
        """The next reason ``execution`` needs a person, each reported once. A pause comes first; call
        again for the window end seen in the same read (a trigger fires one per event)."""
        if self.pauses.observe(execution) and self.watch_pauses:
            return AttentionNeed(PAUSED_EVENT, describe_pause(execution, console_url))
        if not execution.is_final and self.window.check(now):
            assert self.window.window_end is not None  # check() is True only with an end
            return AttentionNeed(
                WINDOW_CLOSED_EVENT,
                describe_window_closed(
                    execution.id, self.window.window_end, now, execution.state, console_url
                ),
            )
        return None

    def event_fields(self, need: AttentionNeed) -> dict[str, Any]:
        """A trigger event's fields for ``need``, with the state the task defers with next."""
        return {
            "status": ATTENTION_STATUS,
            "attention": need.event,
            "message": need.message,
            "pause_key": self.pauses.last_key if self.watch_pauses else None,
            "window_end": self.trigger_kwargs().get("window_end"),
        }

    def sleep_seconds(self, delay: float, now: datetime) -> float:
        """Wake up at the window end to report it on time."""
        left = self.window.seconds_left(now)
        return delay if left is None else min(delay, left)


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
