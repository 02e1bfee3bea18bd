"""The execution engine: moves executions through OOS states in a background thread.

Driven by absolute wall-clock timestamps kept in each execution's `runtime` (when the current
attempt ends, when it times out, when a retry or a delayed start is due). The engine only compares
them with the clock, so after a restart on the same SQLite file it simply carries on: whatever
fell due while the emulator was down happens on the first pass. What one pass does to one
execution lives in `run` (and `loops` for steps with iterations).
"""

from __future__ import annotations

import heapq
import logging
import threading
from typing import Any

from oos_emulator.run import (
    FINAL_EXECUTION_STATES,
    ExecutionPass,
    new_runtime,
    new_task,
    next_due,
)
from oos_emulator.store import ExecutionRecord, Store, now_ms
from oos_emulator.texts import CANCELED_BY_USER, put_reason

__all__ = ["FINAL_EXECUTION_STATES", "Engine", "EngineError", "new_runtime", "new_task"]
log = logging.getLogger(__name__)
_IDLE_WAIT_SECONDS = 1.0


class EngineError(ValueError):
    """An admin action that does not fit the execution's state; the message says why."""


class Engine:
    def __init__(self, store: Store, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0 (e.g. 0.02 runs 50x faster)")
        self.store = store
        self.time_scale = time_scale
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # A pass advances only the executions that need it, so N waiting executions cost
        # nothing per pass (creating 10,000 of them stays linear): the due ones (a heap of
        # (due ms, id); an entry whose time is not `_due[id]` any more is stale), new ones,
        # ones changed by an admin action, and ones with no due time that are not PAUSED.
        self._due: dict[str, int] = {}
        self._queue: list[tuple[int, str]] = []
        self._look: set[str] = set()
        self._undated: set[str] = set()
        self._known: set[str] = set()

    # --- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="oos-emulator-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poke(self, execution_id: str | None = None) -> None:
        """Something changed (new execution, admin action): look again now (at that execution)."""
        if execution_id is not None:
            self._look.add(execution_id)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                next_due = self.tick()
            except Exception:  # a bug must not silently stop every execution: log, go on
                log.exception("OOS emulator engine pass failed")
                next_due = None
            delay = _IDLE_WAIT_SECONDS if next_due is None else max(0.0, (next_due - now_ms()) / 1000)
            self._wake.wait(min(delay, _IDLE_WAIT_SECONDS))
            self._wake.clear()

    def tick(self, now: int | None = None) -> int | None:
        """Advance every execution that needs it; return the earliest time (ms) something falls due."""
        with self.store.lock:
            current = now_ms() if now is None else now
            executions = self.store.executions
            look, self._look = self._look, set()
            if len(executions) != len(self._known):  # created (or reset) since the last pass
                look |= executions.keys() - self._known
                self._known = set(executions)
            while self._queue and self._queue[0][0] <= current:
                look.add(heapq.heappop(self._queue)[1])
            look |= self._undated
            changed = False
            for execution_id in look:
                record = executions.get(execution_id)
                active = record is not None and record.body["state"] not in FINAL_EXECUTION_STATES
                if active and ExecutionPass(self, record, current).advance():  # type: ignore[arg-type]
                    self.store.save_execution(record, commit=False)  # type: ignore[arg-type]
                    changed = True
                self._date(execution_id, record)
            if changed:
                self.store.save_instances(commit=False)
                self.store.commit()
            while self._queue and self._due.get(self._queue[0][1]) != self._queue[0][0]:
                heapq.heappop(self._queue)  # stale entry
            return self._queue[0][0] if self._queue else None

    def _date(self, execution_id: str, record: ExecutionRecord | None) -> None:
        """Remember when `record` next needs a pass."""
        due = None if record is None or record.body["state"] in FINAL_EXECUTION_STATES else next_due(record)
        if due is None:
            self._due.pop(execution_id, None)
            if record is not None and record.body["state"] not in FINAL_EXECUTION_STATES | {"PAUSED"}:
                self._undated.add(execution_id)  # look at it on every pass, as before
            else:
                self._undated.discard(execution_id)  # final, gone, or waiting for an admin action
        else:
            self._undated.discard(execution_id)
            self._due[execution_id] = due
            heapq.heappush(self._queue, (due, execution_id))

    def scaled(self, milliseconds: float) -> int:
        return int(milliseconds * self.time_scale)

    # --- admin actions ------------------------------------------------------------------------
    def pause(self, execution_id: str) -> dict[str, Any]:
        with self.store.lock:
            record = self._active(execution_id)
            if record.body["state"] in ("PAUSED", "ROLLBACK"):
                raise EngineError(f"execution {execution_id} is {record.body['state']}: it cannot be paused")
            run = ExecutionPass(self, record, now_ms())
            run.pause("manual", "execution paused by user")
            return self._saved(record)

    def resume(self, execution_id: str) -> dict[str, Any]:
        with self.store.lock:
            record = self._active(execution_id)
            reason = record.runtime.get("pauseReason")
            if record.body["state"] != "PAUSED":
                raise EngineError(f"execution {execution_id} is {record.body['state']}, not PAUSED")
            if reason == "approval":
                raise EngineError(
                    f"execution {execution_id} waits for approval of a manual step: "
                    f"POST /emulator/executions/{execution_id}/approve"
                )
            run = ExecutionPass(self, record, now_ms())
            run.unpause()
            if reason == "failure":  # a person fixed the cause: run the failed step again
                for task in record.body["tasks"]:
                    if record.runtime["tasks"][task["id"]]["phase"] == "failed_paused":
                        task.pop("reason", None)
                        task["tries"] += 1
                        run.start_attempt(task)
            return self._saved(record)

    def approve(self, execution_id: str, step: str | None = None) -> dict[str, Any]:
        with self.store.lock:
            record = self._active(execution_id)
            waiting = [
                t
                for t in record.body["tasks"]
                if record.runtime["tasks"][t["id"]]["phase"] == "approval"
                and (step is None or t["operator"]["name"] == step)
            ]
            if not waiting:
                raise EngineError(
                    f"execution {execution_id} has no manual step waiting for approval"
                    + (f" named {step!r}" if step else "")
                )
            run = ExecutionPass(self, record, now_ms())
            for task in waiting:
                record.runtime["tasks"][task["id"]].update(approved=True, phase="approved")
                run.log(task, "INFO", "manual step approved")
            # Unpause first (it shifts the times of steps frozen by the pause), then start.
            if not any(record.runtime["tasks"][t["id"]]["phase"] == "approval" for t in record.body["tasks"]):
                run.unpause()
            for task in waiting:
                run.start_attempt(task)
            return self._saved(record)

    def cancel(self, execution_id: str) -> dict[str, Any]:
        with self.store.lock:
            record = self._active(execution_id)
            run = ExecutionPass(self, record, now_ms())
            for task in record.body["tasks"]:
                run.cancel_task(task)
            put_reason(record.body, CANCELED_BY_USER, record.runtime)
            run.finish_execution("CANCELED")
            return self._saved(record)

    def _active(self, execution_id: str) -> ExecutionRecord:
        record = self.store.executions.get(execution_id)
        if record is None:
            raise KeyError(execution_id)
        if record.body["state"] in FINAL_EXECUTION_STATES:
            raise EngineError(f"execution {execution_id} is already {record.body['state']}")
        return record

    def _saved(self, record: ExecutionRecord) -> dict[str, Any]:
        self._look.add(record.body["id"])  # changed outside a pass: look at it on the next one
        self.store.save_execution(record)
        self.poke()
        return {"id": record.body["id"], "state": record.body["state"]}
