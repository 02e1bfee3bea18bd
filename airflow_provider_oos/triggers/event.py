"""Event-driven scheduling: a DAG runs when an OOS execution of a template finishes.

`OosExecutionEventTrigger` is a `BaseEventTrigger` for an asset's `AssetWatcher`; the cursor rules
are pure, in `airflow_provider_oos.rules.event_cursor`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client.connection import DEFAULT_CONN_ID
from airflow_provider_oos.client.models import FINAL_STATES
from airflow_provider_oos.client.payloads import EXECUTION_FILTER_STATES, MAX_PAGE_SIZE
from airflow_provider_oos.client.retry import is_transient
from airflow_provider_oos.rules.event_cursor import WatchCursor, merged
from airflow_provider_oos.rules.waiting import validate_poll_interval

if TYPE_CHECKING:
    from airflow_provider_oos.client.models import Execution
    from airflow_provider_oos.hooks.oos_async import OosAsyncHook

DEFAULT_LOOK_BACK_SECONDS = 24 * 3600.0
# Pages read in one poll at most: with the list sorted by end time, a poll reads one page unless
# more than a page of executions ended since the last poll (or a page is all still running).
MAX_PAGES_PER_POLL = 10
CURSOR_KEY_PREFIX = "oos_event_cursor"


class VariableCursorStore:
    """The watch cursor in an Airflow Variable, read and written through the Task SDK.

    The triggerer serves Variables to its triggers on Airflow 3.1 and later; the sync SDK call runs
    in a thread (`sync_to_async`), so the event loop is never blocked. From that thread the SDK's
    request reaches the triggerer's supervisor on the event loop (3.1: ``async_to_sync`` back onto
    it; 3.3: ``run_coroutine_threadsafe``); tests/reliability/test_event_watch_restart.py runs it in
    a real ``airflow triggerer`` on both.

    :param key: the Variable's key.
    """

    def __init__(self, key: str) -> None:
        self.key = key

    async def load(self) -> str | None:
        from airflow.sdk import Variable
        from asgiref.sync import sync_to_async

        value: Any = await sync_to_async(Variable.get)(self.key, default=None)
        return None if value is None else str(value)

    async def save(self, value: str) -> None:
        from airflow.sdk import Variable
        from asgiref.sync import sync_to_async

        await sync_to_async(Variable.set)(self.key, value, description="OosExecutionEventTrigger cursor")


class OosExecutionEventTrigger(BaseEventTrigger):
    """Watches the executions of one OOS template; one event per execution that ends in ``states``.

    Use it in an asset watcher: ``Asset("oos-nightly", watchers=[AssetWatcher(name="nightly",
    trigger=OosExecutionEventTrigger("nightly-patch"))])``. Each poll reads list-executions of the
    template sorted by end time, newest first, and stops paging once past what it already knows: one
    page (``page_size`` <= 100) per poll while nothing changes.

    Event payload: ``{"execution_id", "template_name", "state", "trigger", "created_timestamp",
    "finished_timestamp", "tags"}`` (times in epoch ms, ``tags`` as key -> value).

    Exactly once, across restarts: the trigger row's kwargs are fixed when the DAG is parsed, so the
    cursor (see `rules.event_cursor`) lives in an Airflow Variable named by the watch itself
    (``oos_event_cursor__<template>__<digest of connection, template, states and filters>``; see
    `cursor_key`). The cursor is saved *before* the events it covers are yielded, so a restarted
    triggerer never announces an execution twice. On the first start the watch begins at that
    moment; after a restart it resumes from the saved cursor, so executions that ended while the
    triggerer was down are announced, up to ``look_back`` seconds back (default one day). The one
    window left is a kill in the second or two between saving the cursor and Airflow committing the
    asset event (the triggerer commits its events once a second): those events are lost, never
    doubled. Under triggerer HA a take-over re-reads the cursor before each save and skips what the
    other instance announced. Transient API errors are logged and retried at the next poll; a
    permanent one (auth, list-executions not on this endpoint) fails the watch with its message.

    :param template_name: the OOS template whose executions are watched.
    :param states: the final states to announce (default: every final state, see ``client.models``).
    :param poll_interval: seconds between polls.
    :param oos_conn_id: the ``baidu_oos`` connection to use. Default ``oos_default``.
    :param trigger: only executions with this published ``trigger`` (e.g. ``CRON``, ``MANUAL``).
    :param cron_execution_name: only runs of this OOS scheduled (cron) execution.
    :param look_back: seconds a restarted watch looks back for executions it missed.
    :param page_size: executions per list page, 1 to 100.
    """

    def __init__(
        self,
        template_name: str,
        states: Sequence[str] | None = None,
        poll_interval: float = 60.0,
        oos_conn_id: str = DEFAULT_CONN_ID,
        *,
        trigger: str | None = None,
        cron_execution_name: str | None = None,
        look_back: float = DEFAULT_LOOK_BACK_SECONDS,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.template_name = template_name
        self.states = _validate_states(states)
        self.poll_interval = validate_poll_interval(poll_interval)
        self.oos_conn_id = oos_conn_id
        self.trigger = trigger
        self.cron_execution_name = cron_execution_name
        self.look_back = _validate_look_back(look_back)
        self.page_size = page_size
        self._page_call(1)  # every filter checked now (ValueError naming it), before any call

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "template_name": self.template_name,
                "states": sorted(self.states),  # stable: Airflow matches trigger rows by kwargs
                "poll_interval": self.poll_interval,
                "oos_conn_id": self.oos_conn_id,
                "trigger": self.trigger,
                "cron_execution_name": self.cron_execution_name,
                "look_back": self.look_back,
                "page_size": self.page_size,
            },
        )

    @property
    def cursor_key(self) -> str:
        """The Variable holding this watch's cursor: the same for every parse of the same watch."""
        identity = [self.oos_conn_id, self.template_name, sorted(self.states), self.trigger]
        identity.append(self.cron_execution_name)
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
        readable = re.sub(r"[^A-Za-z0-9_.-]", "_", self.template_name)[:120]
        return f"{CURSOR_KEY_PREFIX}__{readable}__{digest}"

    def _page_call(self, page_no: int) -> ops.ApiCall[Any]:
        # One state the list filter knows: let the service filter; several: filter here.
        only = next(iter(self.states)) if len(self.states) == 1 else None
        return ops.list_executions(
            page_no=page_no,
            page_size=self.page_size,
            template_name=self.template_name,
            state=only if only in EXECUTION_FILTER_STATES else None,
            trigger=self.trigger,
            cron_execution_name=self.cron_execution_name,
            sort="endTime",
            ascending=False,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_oos.triggers.oos import _async_hook_class  # oos.py re-exports this module

        hook_class = await _async_hook_class()
        store = VariableCursorStore(self.cursor_key)
        cursor = WatchCursor.start(await store.load(), _now_ms(), int(self.look_back * 1000))
        await store.save(cursor.dumps())  # pins the start: a restart resumes from here
        self.log.info(
            "Watching OOS template %r from %s (cursor %s)", self.template_name, cursor.since, store.key
        )
        async with hook_class(oos_conn_id=self.oos_conn_id) as hook:
            while True:
                try:
                    found, newest = await self._poll(hook, cursor)
                except Exception as err:
                    if not is_transient(err):
                        raise
                    self.log.warning("Listing executions of %r failed, retrying: %s", self.template_name, err)
                    await asyncio.sleep(self.poll_interval)
                    continue
                after = cursor.advanced(found, newest)
                if after != cursor:
                    base = merged(cursor, await store.load())  # what another instance announced
                    fresh = [execution for execution in found if execution.id not in base.seen]
                    cursor = base.advanced(fresh, newest)
                    await store.save(cursor.dumps())  # before the yield: never announced twice
                    for execution in fresh:
                        yield TriggerEvent(self._payload(execution))  # type: ignore[no-untyped-call]
                await asyncio.sleep(self.poll_interval)

    async def _poll(self, hook: OosAsyncHook, cursor: WatchCursor) -> tuple[list[Execution], int | None]:
        """The executions to announce (oldest end first) and the newest end time seen."""
        found: list[Execution] = []
        newest: int | None = None
        for page_no in range(1, MAX_PAGES_PER_POLL + 1):
            page = await hook.run(self._page_call(page_no))
            for execution in page.executions:
                if not self._watched(execution):
                    continue
                if execution.finished_timestamp is not None:
                    newest = max(newest or 0, execution.finished_timestamp)
                if cursor.is_new(execution, self.states):
                    found.append(execution)
            if len(page.executions) < self.page_size or any(map(cursor.passed, page.executions)):
                break
        found.sort(key=lambda execution: (execution.finished_timestamp or 0, execution.id))
        return found, newest

    def _watched(self, execution: Execution) -> bool:
        """Read tolerantly, check exactly: a service that ignored a filter announces nothing foreign."""
        name = execution.template.name if execution.template else None
        return name in (None, self.template_name) and self.trigger in (None, execution.trigger)

    def _payload(self, execution: Execution) -> dict[str, Any]:
        return {
            "execution_id": execution.id,
            "template_name": self.template_name,
            "state": execution.state,
            "trigger": execution.trigger,
            "created_timestamp": execution.created_timestamp,
            "finished_timestamp": execution.finished_timestamp,
            "tags": execution.tag_map(),
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _validate_states(states: Sequence[str] | None) -> frozenset[str]:
    if states is None:
        return FINAL_STATES
    if isinstance(states, str) or not states:
        raise TypeError(f"states must be a non-empty list of final states, got {states!r}")
    unknown = [state for state in states if state not in FINAL_STATES]
    if unknown:
        raise ValueError(
            f"states may only hold final execution states ({', '.join(sorted(FINAL_STATES))}), "
            f"got {unknown!r}; the watch announces executions that have ended"
        )
    return frozenset(states)


def _validate_look_back(look_back: float) -> float:
    if isinstance(look_back, bool) or not isinstance(look_back, int | float) or look_back < 0:
        raise ValueError(f"look_back must be a number of seconds >= 0, got {look_back!r}")
    return float(look_back)
