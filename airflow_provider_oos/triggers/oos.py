"""Deferrable waiting: the triggerer polls an OOS execution until it is final, then fires one event.

Nothing here blocks the triggerer's event loop: this module imports only the light waiting rules,
and the hook with aiohttp (about 0.4 s to import) is imported once, in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_oos.client.connection import DEFAULT_CONN_ID
from airflow_provider_oos.rules.notify import AttentionWatch
from airflow_provider_oos.rules.waiting import (
    Finish,
    Sleep,
    WaitingStateMachine,
    failure_with_log,
    log_notes,
    validate_on_paused,
    validate_poll_interval,
)

if TYPE_CHECKING:
    from airflow_provider_oos.client.models import Execution
    from airflow_provider_oos.hooks.oos_async import OosAsyncHook

# The async hook's own module: `hooks.oos` re-exports it but also loads the sync hook and requests.
_HOOK_MODULE = "airflow_provider_oos.hooks.oos_async"
_loaded_hook_class: list[type[OosAsyncHook]] = []  # filled by the first trigger that runs


def _import_async_hook() -> type[OosAsyncHook]:
    """Runs in a worker thread: the hook module and aiohttp, which the hook imports on first use."""
    importlib.import_module("aiohttp")
    hook_class: type[OosAsyncHook] = importlib.import_module(_HOOK_MODULE).OosAsyncHook
    return hook_class


async def _async_hook_class() -> type[OosAsyncHook]:
    """`OosAsyncHook`, imported off the event loop the first time (later triggers find it here)."""
    if not _loaded_hook_class:
        _loaded_hook_class[:] = [await asyncio.to_thread(_import_async_hook)]
    return _loaded_hook_class[0]


class OosExecutionTrigger(BaseTrigger):
    """Polls one OOS execution asynchronously and yields exactly one small event.

    Event payload: ``{"status": "success"|"failed"|"paused"|"timeout"|"error", "execution_id",
    "state", "message", "console_url", "finished_timestamp", "summary"}``; ``summary`` (the task's
    XCom summary) only on success. On failure the trigger reads the execution once more with logs
    (polls read none) and ``message`` names the failing step, its reason, errorCode, loop iteration
    and log tail. ``paused`` fires only with ``on_paused="fail"``; with ``"wait"`` a pause is logged
    once (with the console link) and polling goes on.

    Window safety (issue 10): with ``stop_on_pause`` each new pause, and with ``window_end`` the
    window closing while the execution runs, end the wait with an ``"attention"`` event
    (``attention``: ``"paused"``/``"window_closed"``, ``message``, ``pause_key``, ``window_end``,
    ``deadline``). The task notifies in the worker and defers again: no user code runs here.

    Everything needed after a triggerer restart is in the serialized kwargs, including the
    wall-clock ``deadline``, so a restart does not extend the wait. Only reads, no user code, no
    side effects: running twice under triggerer HA is harmless. Transient API errors are ridden out
    with exponential backoff; five in a row, or a permanent error (auth, not found), end the wait
    with an ``error`` event.

    :param execution_id: the execution to wait for (``d-…``).
    :param oos_conn_id: the ``baidu_oos`` connection to use. Default ``oos_default``.
    :param poll_interval: seconds between reads while the execution is not final.
    :param deadline: epoch seconds after which the wait ends with a ``timeout`` event; None: no limit.
    :param on_paused: ``"wait"`` (default) or ``"fail"`` when the execution waits for a person.
    :param stop_on_pause: fire an ``attention`` event at each new pause (the task has notifiers).
    :param last_pause_key: the pause the task already notified (``notify.pause_key``).
    :param window_end: epoch seconds when the maintenance window closes; None: not watched.
    """

    def __init__(
        self,
        execution_id: str,
        oos_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30,
        deadline: float | None = None,
        on_paused: str = "wait",
        stop_on_pause: bool = False,
        last_pause_key: str | None = None,
        window_end: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._console_url: str | None = None  # known once run() has read the connection
        self.execution_id = execution_id
        self.oos_conn_id = oos_conn_id
        self.poll_interval = validate_poll_interval(poll_interval)
        self.deadline = deadline
        self.on_paused = validate_on_paused(on_paused)
        self.attention = AttentionWatch.from_trigger_kwargs(stop_on_pause, last_pause_key, window_end)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "execution_id": self.execution_id,
                "oos_conn_id": self.oos_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "on_paused": self.on_paused,
                **self.attention.trigger_kwargs(),  # only what is set
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook_class = await _async_hook_class()
        # The hook's pooled session is shared by every trigger of this event loop; leaving the
        # `async with` lets the last one out close it, before the single event is sent.
        async with hook_class(oos_conn_id=self.oos_conn_id) as hook:
            event = await self._wait(hook)
        yield event

    async def _read(self, hook: OosAsyncHook, *, with_log: bool = False) -> Execution | Exception:
        try:
            return await hook.get_execution(self.execution_id, with_log=with_log)
        except Exception as err:  # an observation for the state machine, not a crash
            return err

    async def _wait(self, hook: OosAsyncHook) -> TriggerEvent:
        try:
            console_url = (await hook.get_config()).console_url(self.execution_id)
        except Exception as err:  # a broken connection cannot get better by waiting
            return self._event("error", f"Cannot use connection {self.oos_conn_id!r}: {err}", "")
        self._console_url = console_url
        machine = WaitingStateMachine(
            self.execution_id,
            console_url,
            poll_interval=self.poll_interval,
            on_paused=self.on_paused,
            deadline=self.deadline,
            keep_last_read=False,  # the event carries the state and finish time only
        )
        while True:
            action = machine.next_action(await self._read(hook), time.time())
            log_notes(self.log, action.notes)
            if isinstance(action, Sleep):
                now = datetime.now(timezone.utc)
                if action.execution is not None and (
                    need := self.attention.next_need(action.execution, now, console_url)
                ):
                    fields = self.attention.event_fields(need)
                    return self._attention_event(fields, console_url, action.execution)
                delay = self.attention.sleep_seconds(action.seconds, now)
                del action  # sleep without the read just made: thousands of waits would each hold one
                await asyncio.sleep(delay)
                continue
            if isinstance(action, Finish):
                message = f"OOS execution {self.execution_id} succeeded."
                return self._event("success", message, console_url, action.execution, action.summary)
            if action.needs_log:
                action = failure_with_log(action, await self._read(hook, with_log=True), console_url)
            return self._event(action.reason.value, action.message, console_url, action.execution)

    def _event(
        self,
        status: str,
        message: str,
        console_url: str,
        execution: Execution | None = None,
        summary: dict[str, Any] | None = None,
    ) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {
                "status": status,
                "execution_id": self.execution_id,
                "state": execution.state if execution else None,
                "message": message,
                "console_url": console_url,
                "finished_timestamp": execution.finished_timestamp if execution else None,
                "summary": summary,
            }
        )

    def _attention_event(
        self, fields: dict[str, Any], console_url: str, execution: Execution
    ) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {
                **fields,
                "execution_id": self.execution_id,
                "state": execution.state,
                "console_url": console_url,
                "deadline": self.deadline,
                "finished_timestamp": None,
                "summary": None,
            }
        )

    async def on_kill(self) -> None:
        """Airflow >= 3.3 calls this when a person kills the deferred task. OOS has no cancel API."""
        where = self._console_url or f"the OOS console (connection {self.oos_conn_id!r})"
        self.log.warning(
            "OOS offers no API to cancel an execution: %s keeps running after this task is killed. "
            "Stop it by hand if needed: %s",
            self.execution_id,
            where,
        )


# The event-driven watch lives in its own module; re-exported here, its public path.
from airflow_provider_oos.triggers.event import OosExecutionEventTrigger  # noqa: E402

__all__ = ["OosExecutionEventTrigger", "OosExecutionTrigger"]
