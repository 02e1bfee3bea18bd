"""OosExecutionEventTrigger: its cursor rules, serialization, and watches of the real emulator.

The cursor store is an in-memory stand-in for the Airflow Variable here (no triggerer runs); the
real Variable, a real triggerer and its SIGKILL are in tests/reliability/test_event_watch_restart.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.models import FINAL_STATES
from airflow_provider_oos.client.session_pool import close_all_sessions
from airflow_provider_oos.rules.event_cursor import GRACE_MS, WatchCursor, merged
from airflow_provider_oos.triggers import event as event_module
from airflow_provider_oos.triggers.oos import OosExecutionEventTrigger
from tests.support.oos_task_helpers import shell, template, wait_for_state

CLASSPATH = "airflow_provider_oos.triggers.event.OosExecutionEventTrigger"


@dataclass
class Ended:
    id: str
    state: str | None
    finished_timestamp: int | None


# --- the pure cursor -------------------------------------------------------------------------


def test_first_start_watches_from_now_and_a_restart_resumes_within_the_look_back() -> None:
    first = WatchCursor.start(None, now_ms=10_000_000, look_back_ms=3_600_000)
    assert first == WatchCursor(since=10_000_000)
    saved = WatchCursor(since=9_000_000, seen={"d-a": 9_500_000, "d-old": 8_000_000}).dumps()
    resumed = WatchCursor.start(saved, now_ms=10_000_000, look_back_ms=3_600_000)
    assert resumed == WatchCursor(since=9_000_000, seen={"d-a": 9_500_000})
    # Down longer than the look-back: resume from the look-back, not from the old cursor.
    assert WatchCursor.start(saved, now_ms=20_000_000, look_back_ms=1_000).since == 19_999_000
    # An unreadable cursor is not a crash: the watch starts from now.
    assert WatchCursor.start("{not json", now_ms=5, look_back_ms=1) == WatchCursor(since=5)


def test_new_means_in_the_states_ended_since_and_not_yet_announced() -> None:
    cursor = WatchCursor(since=1_000, seen={"d-seen": 1_500})
    states = frozenset({"SUCCESS", "FAILED"})
    assert cursor.is_new(Ended("d-1", "SUCCESS", 1_000), states)
    assert not cursor.is_new(Ended("d-seen", "SUCCESS", 1_500), states)
    assert not cursor.is_new(Ended("d-2", "SUCCESS", 999), states)  # before the watch
    assert not cursor.is_new(Ended("d-3", "CANCELED", 2_000), states)  # not watched
    assert not cursor.is_new(Ended("d-4", "RUNNING", None), states)
    assert cursor.passed(Ended("d-2", "SUCCESS", 999))
    assert not cursor.passed(Ended("d-4", "RUNNING", None))  # a running one says nothing


def test_advancing_remembers_the_announced_and_trails_the_newest_end_by_the_grace() -> None:
    cursor = WatchCursor(since=0, seen={"d-0": 10})
    newest = 10 * GRACE_MS
    after = cursor.advanced([Ended("d-1", "SUCCESS", newest)], newest)
    assert after.since == newest - GRACE_MS
    assert after.seen == {"d-1": newest}  # d-0 ended before `since`: it can never be new again
    assert cursor.advanced([], None) == cursor


def test_merging_keeps_what_another_instance_announced() -> None:
    mine = WatchCursor(since=100, seen={"d-1": 150})
    theirs = WatchCursor(since=120, seen={"d-2": 160, "d-old": 110}).dumps()
    assert merged(mine, theirs) == WatchCursor(since=120, seen={"d-1": 150, "d-2": 160})
    assert merged(mine, None) == mine


# --- the trigger -----------------------------------------------------------------------------


def test_serialize_round_trip_is_stable_json() -> None:
    trigger = OosExecutionEventTrigger(
        "nightly", ["SUCCESS", "FAILED"], 5, "oos_prod", trigger="CRON", cron_execution_name="n1"
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "template_name": "nightly",
        "states": ["FAILED", "SUCCESS"],  # sorted: Airflow matches trigger rows by their kwargs
        "poll_interval": 5.0,
        "oos_conn_id": "oos_prod",
        "trigger": "CRON",
        "cron_execution_name": "n1",
        "look_back": 86400.0,
        "page_size": 100,
    }
    json.dumps(kwargs)
    again = OosExecutionEventTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert again.cursor_key == trigger.cursor_key
    assert again.cursor_key.startswith("oos_event_cursor__nightly__")
    assert OosExecutionEventTrigger("nightly").cursor_key != trigger.cursor_key
    assert OosExecutionEventTrigger("nightly").states == FINAL_STATES


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"states": ["RUNNING"]}, ValueError, "states"),
        ({"states": "SUCCESS"}, TypeError, "states"),
        ({"states": []}, TypeError, "states"),
        ({"poll_interval": 0}, ValueError, "poll_interval"),
        ({"look_back": -1}, ValueError, "look_back"),
        ({"page_size": 101}, ValueError, "page_size"),
        ({"template_name": ""}, ValueError, "template_name"),
    ],
)
def test_bad_settings_are_refused_before_any_call(
    kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        OosExecutionEventTrigger(**{"template_name": "nightly", **kwargs})


class MemoryStore:
    """The Variable stand-in: one dict shared by every store, like the metadata DB."""

    values: ClassVar[dict[str, str]] = {}

    def __init__(self, key: str) -> None:
        self.key = key

    async def load(self) -> str | None:
        return self.values.get(self.key)

    async def save(self, value: str) -> None:
        self.values[self.key] = value


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> type[MemoryStore]:
    monkeypatch.setattr(MemoryStore, "values", {})
    monkeypatch.setattr(event_module, "VariableCursorStore", MemoryStore)
    return MemoryStore


def start(name: str, *lines: str) -> str:
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook().create_execution(template(name, shell("work", *lines)))


async def watch(trigger: OosExecutionEventTrigger, seconds: float) -> list[dict[str, Any]]:
    """Every event the watch yields within ``seconds`` (then it is cancelled, as at a restart)."""
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    task = asyncio.ensure_future(collect())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await close_all_sessions()
    return events


async def test_one_event_per_execution_and_none_again_after_a_restart(
    emulator: EmulatorHandle, memory_store: type[MemoryStore]
) -> None:
    name = f"watched-{time.time_ns()}"
    before = await asyncio.to_thread(start, name, "echo before the watch")
    await asyncio.to_thread(wait_for_state, emulator, before, {"SUCCESS"})
    trigger = OosExecutionEventTrigger(name, poll_interval=0.1)
    watching = asyncio.ensure_future(watch(trigger, 6))
    await asyncio.sleep(1)
    ok = await asyncio.to_thread(start, name, "echo ok")
    bad = await asyncio.to_thread(start, name, "# emulator: exit 3")
    other = await asyncio.to_thread(start, f"{name}-other", "echo not watched")
    events = await watching
    assert sorted(e["execution_id"] for e in events) == sorted([ok, bad])  # not `before`, not `other`
    by_id = {e["execution_id"]: e for e in events}
    assert by_id[ok]["state"] == "SUCCESS" and by_id[bad]["state"] == "FAILED"
    assert by_id[ok]["template_name"] == name and by_id[ok]["trigger"] == "MANUAL"
    assert by_id[ok]["finished_timestamp"] >= by_id[ok]["created_timestamp"] > 0
    assert isinstance(by_id[ok]["tags"], dict)
    json.dumps(events)
    # Down for a while: one ends meanwhile. The restarted watch announces it, and only it.
    missed = await asyncio.to_thread(start, name, "echo while down")
    await asyncio.to_thread(wait_for_state, emulator, missed, {"SUCCESS"})
    again = await watch(OosExecutionEventTrigger(name, poll_interval=0.1), 2)
    assert [e["execution_id"] for e in again] == [missed]
    assert await watch(OosExecutionEventTrigger(name, poll_interval=0.1), 1) == []
    await asyncio.to_thread(wait_for_state, emulator, other, {"SUCCESS"})


async def test_an_idle_poll_reads_one_page(emulator: EmulatorHandle, memory_store: type[MemoryStore]) -> None:
    name = f"paged-{time.time_ns()}"
    ids = [await asyncio.to_thread(start, name, "echo old") for _ in range(5)]
    for execution_id in ids:
        await asyncio.to_thread(wait_for_state, emulator, execution_id, {"SUCCESS"})
    from airflow_provider_oos.hooks.oos_async import OosAsyncHook

    pages: list[dict[str, Any]] = []

    class CountingHook(OosAsyncHook):
        async def run(self, call: Any) -> Any:
            pages.append(call.body)
            return await super().run(call)

    trigger = OosExecutionEventTrigger(name, page_size=2)
    async with CountingHook() as hook:
        found, newest = await trigger._poll(hook, WatchCursor(since=int(time.time() * 1000)))
    await close_all_sessions()
    assert found == [] and newest is not None
    assert len(pages) == 1  # 5 executions, pages of 2, but the first page is already past `since`
    assert pages[0]["sort"] == "endTime" and pages[0]["ascending"] is False
    assert pages[0]["template"] == {"name": name}


async def test_a_permanent_error_fails_the_watch_with_its_message(
    emulator: EmulatorHandle, memory_store: type[MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(emulator.conn_json)
    conn["password"] = "wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_OOS_WRONG", json.dumps(conn))
    trigger = OosExecutionEventTrigger("any", poll_interval=0.1, oos_conn_id="oos_wrong")

    async def first() -> AsyncIterator[Any]:
        async for item in trigger.run():
            yield item

    with pytest.raises(Exception, match=r"(?i)signature"):
        await asyncio.wait_for(first().__anext__(), 10)
    await close_all_sessions()
