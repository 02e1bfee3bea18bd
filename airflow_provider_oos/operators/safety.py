"""Maintenance-window safety inside a running task: the start guard, the reattach lookup, and telling
a person when an execution pauses or outlives its window.

The glue between the pure pieces (`window`, `reattach`, `notify`) and an Airflow task: it reads
the task context, logs, raises Airflow's skip/fail and calls notifiers. The operator and the sensor
use it in the worker; the trigger never calls it (it only fires events, see `notify.pause_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.rules.notify import (
    PAUSED_EVENT,
    WINDOW_CLOSED_EVENT,
    AttentionWatch,
    Notifier,
    send_notifications,
)
from airflow_provider_oos.rules.reattach import (
    ExecutionLister,
    ReattachDecision,
    find_earlier_try,
    task_instance_tags,
)
from airflow_provider_oos.rules.window import (
    FAIL,
    ResolvedWindow,
    StartWindow,
    decide_start,
)
from airflow_provider_oos.version_compat import AirflowFailException, AirflowSkipException


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def run_times(context: Mapping[str, Any]) -> dict[str, datetime | None]:
    """The run's data interval and run_after (None where the run has none)."""
    dag_run = context.get("dag_run")
    return {
        "data_interval_start": _as_datetime(context.get("data_interval_start")),
        "data_interval_end": _as_datetime(context.get("data_interval_end")),
        "run_after": _as_datetime(getattr(dag_run, "run_after", None)),
    }


def _skip_or_fail(action: str, message: str) -> NoReturn:
    if action == FAIL:
        raise AirflowFailException(message)  # a retry cannot bring the window back
    raise AirflowSkipException(message)


def guard_start(
    window: StartWindow | None,
    context: Mapping[str, Any],
    log: logging.Logger | Any,
    now: datetime | None = None,
) -> ResolvedWindow | None:
    """Return the placed window when a start is allowed now; else log why and skip or fail the task."""
    if window is None or not window.enabled:
        return None
    decision = decide_start(window, now=now or now_utc(), **run_times(context))
    if decision.should_start:
        log.info("%s", decision.message)
        return decision.window
    log.warning("%s", decision.message)
    _skip_or_fail(decision.action, decision.message)


def window_end_for(window: StartWindow | None, context: Mapping[str, Any]) -> datetime | None:
    """When this run's window closes (None: no end, or it cannot be placed)."""
    if window is None or window.window_end is None:
        return None
    try:
        return window.resolve(**run_times(context)).window_end
    except ValueError:
        return None


def look_for_earlier_try(
    hook: ExecutionLister,
    context: Mapping[str, Any],
    template_name: str | None,
    log: logging.Logger | Any,
) -> ReattachDecision:
    """Reattach lookup for this task instance (see `reattach.find_earlier_try`); logs the decision."""
    dag_run = context.get("dag_run")
    started = _as_datetime(getattr(dag_run, "start_date", None))
    decision = find_earlier_try(
        hook,
        task_instance_tags(context["ti"]),
        template_name=template_name,
        since_ms=int(started.timestamp() * 1000) if started else None,
        now_ms=int(now_utc().timestamp() * 1000),
    )
    log.info("%s", decision.message)
    return decision


class WorkerAttention:
    """Tells a person, from the worker, what `AttentionWatch` reports: each pause once, and the
    window closing mid-run once (also a loud warning in the task log; OOS cannot stop it).

    :param pause_callbacks: notifiers/callables called when the execution enters PAUSED.
    :param window_closed_callbacks: notifiers/callables called when the window closes while the
        execution is not final.
    :param window_end: when the window closes (None: never).
    :param last_pause_key: the pause already notified (carried over a deferral).
    """

    def __init__(
        self,
        *,
        pause_callbacks: tuple[Notifier, ...] = (),
        window_closed_callbacks: tuple[Notifier, ...] = (),
        window_end: datetime | None = None,
        last_pause_key: str | None = None,
    ) -> None:
        self.pause_callbacks = pause_callbacks
        self.window_closed_callbacks = window_closed_callbacks
        self.watch = AttentionWatch(
            watch_pauses=bool(pause_callbacks), last_pause_key=last_pause_key, window_end=window_end
        )

    def observe(
        self,
        execution: Execution,
        context: Mapping[str, Any],
        console_url: str | None,
        log: logging.Logger | Any,
        now: datetime | None = None,
    ) -> None:
        """Call after every look at a not-final execution (worker loop, sensor poke)."""
        now = now or now_utc()
        while (need := self.watch.next_need(execution, now, console_url)) is not None:
            if need.event == WINDOW_CLOSED_EVENT:
                log.warning("%s", need.message)
            self._tell(need.event, execution.id, console_url, need.message, context, log)

    def _tell(
        self,
        event: str,
        execution_id: str,
        console_url: str | None,
        message: str,
        context: Mapping[str, Any],
        log: logging.Logger | Any,
    ) -> None:
        send_notifications(
            self.pause_callbacks if event == PAUSED_EVENT else self.window_closed_callbacks,
            context,
            event=event,
            execution_id=execution_id,
            console_url=console_url,
            message=message,
            log=log,
        )

    def trigger_kwargs(self) -> dict[str, Any]:
        """What a trigger needs to fire an event (never to notify) at the next pause or the window end."""
        return self.watch.trigger_kwargs()

    def after_event(
        self, event: Mapping[str, Any], context: Mapping[str, Any], log: logging.Logger | Any
    ) -> dict[str, Any]:
        """A trigger's attention event, in the worker: log it, call the notifiers, and return the
        kwargs of the trigger to defer to next (the same deadline; this pause or window end done)."""
        kind = str(event.get("attention"))
        message = str(event.get("message") or "")
        log.warning("%s", message)
        self._tell(
            kind, str(event.get("execution_id")), event.get("console_url") or None, message, context, log
        )
        follow_up = AttentionWatch.from_trigger_kwargs(
            stop_on_pause=bool(self.pause_callbacks),
            last_pause_key=event.get("pause_key"),
            window_end=event.get("window_end"),
        )
        return {"deadline": event.get("deadline"), **follow_up.trigger_kwargs()}


def defer_again(
    task: Any, attention: WorkerAttention, event: Mapping[str, Any], context: Mapping[str, Any]
) -> NoReturn:
    """After an attention event: notify (in the worker), then defer `task` (an OOS operator or
    sensor) to the same wait again, with the same deadline."""
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger

    follow_up = attention.after_event(event, context, task.log)
    interval = task.poll_interval if hasattr(task, "poll_interval") else task.poke_interval
    task.defer(
        trigger=OosExecutionTrigger(
            execution_id=str(event["execution_id"]),
            oos_conn_id=task.oos_conn_id,
            poll_interval=interval.total_seconds() if isinstance(interval, timedelta) else float(interval),
            on_paused=task.on_paused,
            **follow_up,
        ),
        method_name="execute_complete",
    )
    raise AssertionError("defer() returned")  # pragma: no cover - defer always raises
