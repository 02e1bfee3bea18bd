"""Deferrable waiting: the triggerer polls an OOS execution until it is final, then fires one event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_oos.waiting import (
    MAX_CONSECUTIVE_API_FAILURES,
    Outcome,
    ProgressReporter,
    backoff_seconds,
    classify,
    compact_execution,
    describe_failure,
    describe_pause,
    describe_timeout,
    is_transient,
    validate_on_paused,
    validate_poll_interval,
)

if TYPE_CHECKING:
    from airflow_provider_oos.hooks.oos import OosAsyncHook
    from airflow_provider_oos.models import Execution


class OosExecutionTrigger(BaseTrigger):
    """Polls one OOS execution asynchronously and yields exactly one event.

    Event payload: ``{"status": "success"|"failed"|"paused"|"timeout"|"error", "execution_id",
    "state", "message", "console_url", "execution"}`` where ``execution`` is the execution's API JSON
    (each step's log cut to its tail) or None. ``paused`` is only fired with ``on_paused="fail"``;
    with ``"wait"`` a pause is logged once (with the console link) and polling goes on.

    Everything needed after a triggerer restart is in the serialized kwargs, including the
    wall-clock ``deadline`` (epoch seconds, None = no limit), so a restart does not extend the wait.
    The trigger has no side effects (only GET calls), so running twice under triggerer HA is harmless.
    Transient API errors (connection, timeout, 429, 5xx, each already retried by the hook) are
    ridden out with exponential backoff; after ``MAX_CONSECUTIVE_API_FAILURES`` in a row, or on a
    permanent error (auth, not found), an ``error`` event ends the wait.
    """

    def __init__(
        self,
        execution_id: str,
        oos_conn_id: str = "oos_default",
        poll_interval: float = 30,
        deadline: float | None = None,
        on_paused: str = "wait",
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._console_url: str | None = None  # known once run() has read the connection
        self.execution_id = execution_id
        self.oos_conn_id = oos_conn_id
        self.poll_interval = validate_poll_interval(poll_interval)
        self.deadline = deadline
        self.on_paused = validate_on_paused(on_paused)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "execution_id": self.execution_id,
                "oos_conn_id": self.oos_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "on_paused": self.on_paused,
            },
        )

    def _event(
        self, status: str, message: str, console_url: str, execution: Execution | None = None
    ) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {
                "status": status,
                "execution_id": self.execution_id,
                "state": execution.state if execution else None,
                "message": message,
                "console_url": console_url,
                "execution": compact_execution(execution) if execution else None,
            }
        )

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_oos.hooks.oos import OosAsyncHook

        # The hook's pooled session is shared by every trigger of this event loop; leaving the
        # `async with` lets the last one out close it, before the single event is sent.
        async with OosAsyncHook(oos_conn_id=self.oos_conn_id) as hook:
            event = await self._wait(hook)
        yield event

    async def _wait(self, hook: OosAsyncHook) -> TriggerEvent:
        try:
            console_url = (await hook.get_config()).console_url(self.execution_id)
            self._console_url = console_url
        except Exception as err:  # a broken connection cannot get better by waiting
            return self._event("error", f"Cannot use connection {self.oos_conn_id!r}: {err}", "")
        reporter = ProgressReporter(self.log, self.execution_id, console_url)
        last: Execution | None = None
        failures = 0
        while True:
            try:
                execution = await hook.get_execution(self.execution_id)
            except Exception as err:
                failures += 1
                if not is_transient(err) or failures >= MAX_CONSECUTIVE_API_FAILURES:
                    message = (
                        f"Giving up on OOS execution {self.execution_id} after {failures} failed "
                        f"API call(s) in a row: {err}"
                    )
                    return self._event("error", message, console_url, last)
                delay = backoff_seconds(self.poll_interval, failures)
                self.log.warning(
                    "Could not read OOS execution %s (%s); trying again in %.1f s.",
                    self.execution_id,
                    err,
                    delay,
                )
            else:
                failures = 0
                last = execution
                reporter.report(execution)
                outcome = classify(execution)
                if outcome is Outcome.SUCCESS:
                    return self._event(
                        "success", f"OOS execution {execution.id} succeeded.", console_url, execution
                    )
                if outcome is Outcome.FAILED:
                    return self._event(
                        "failed", describe_failure(execution, console_url), console_url, execution
                    )
                if outcome is Outcome.PAUSED and self.on_paused == "fail":
                    return self._event(
                        "paused", describe_pause(execution, console_url), console_url, execution
                    )
                delay = self.poll_interval
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                state = last.state if last else None
                message = describe_timeout(self.execution_id, None, state, console_url)
                return self._event("timeout", message, console_url, last)
            await asyncio.sleep(delay if remaining is None else min(delay, remaining))

    async def on_kill(self) -> None:
        """Airflow >= 3.3 calls this when a person kills the deferred task. OOS has no cancel API."""
        where = self._console_url or f"the OOS console (connection {self.oos_conn_id!r})"
        self.log.warning(
            "OOS offers no API to cancel an execution: %s keeps running after this task is killed. "
            "Stop it by hand if needed: %s",
            self.execution_id,
            where,
        )
