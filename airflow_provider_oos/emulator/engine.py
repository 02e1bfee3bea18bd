"""The execution engine: moves executions through OOS states in a background thread.

Driven by absolute wall-clock timestamps kept in each execution's `runtime` (when the current
attempt ends, when it times out, when a retry or a delayed start is due). The engine only compares
them with the clock, so after a restart on the same SQLite file it simply carries on: whatever
fell due while the emulator was down happens on the first pass.

Task runtime phases: `waiting` (upstream not done) → `delay` (scheduleDelayMilli) → `approval`
(a `manually` step, execution PAUSED) → `running` → `retry` (UP_FOR_RETRY) → ... → `done`;
`failed_paused` is a failed step of a `pauseOnFailure` template waiting for a person.
"""

from __future__ import annotations

import copy
import heapq
import logging
import threading
from typing import Any

from airflow_provider_oos.emulator import actions
from airflow_provider_oos.emulator.store import ExecutionRecord, Store, now_ms, random_id
from airflow_provider_oos.emulator.templates import resolve_refs, upstream_map

log = logging.getLogger(__name__)
FINAL_EXECUTION_STATES = frozenset({"SUCCESS", "FAILED", "CANCELED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"})
ACTIVE_PHASES = frozenset({"delay", "running", "retry"})
_IDLE_WAIT_SECONDS = 1.0


class EngineError(ValueError):
    """An admin action that does not fit the execution's state; the message says why."""


def new_task(step: dict[str, Any], revision: int, created: int) -> dict[str, Any]:
    """A PENDING task shaped like the vendor page: the step's input lives in `initContext`."""
    init_context = {
        **copy.deepcopy(step.get("initContext") or {}),
        **copy.deepcopy(step.get("properties") or {}),
    }
    return {
        "id": random_id("t-", 22),
        "revision": revision,
        "createdTimestamp": created,
        "updatedTimestamp": created,
        "state": "PENDING",
        "operator": {**copy.deepcopy(step), "properties": {}, "initContext": copy.deepcopy(init_context)},
        "initContext": init_context,
        "context": {},
        "outputContext": {},
        "tries": 0,
        "children": [],
        "log": [],
    }


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
                if active and _Run(self, record, current).advance():  # type: ignore[arg-type]
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
            run = _Run(self, record, now_ms())
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
            run = _Run(self, record, now_ms())
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
            run = _Run(self, record, now_ms())
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
            run = _Run(self, record, now_ms())
            for task in record.body["tasks"]:
                phase = record.runtime["tasks"][task["id"]]["phase"]
                if phase in ("running", "retry", "approval", "delay"):
                    run.finish_task(task, "FAILED", reason="execution canceled by user")
                elif phase == "waiting":
                    run.finish_task(task, "SKIPPED")
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


def new_runtime(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tasks": {t["id"]: {"phase": "waiting", "attempt": 0} for t in tasks},
        "pausedAt": None,
        "pauseReason": None,
        "rollback": None,
    }


def next_due(record: ExecutionRecord) -> int | None:
    runtime = record.runtime
    if record.body["state"] == "PAUSED":
        return None
    dues = [
        min(x for x in (r.get("due"), r.get("deadline")) if x is not None)
        for r in runtime["tasks"].values()
        if r["phase"] in ACTIVE_PHASES
    ]
    if runtime.get("rollback"):
        dues.append(runtime["rollback"]["due"])
    if record.body["state"] == "PENDING":
        dues.append(record.body["createdTimestamp"])
    return min(dues) if dues else None


class _Run:
    """One pass over one execution at time `now` (all mutations of an execution live here)."""

    def __init__(self, engine: Engine, record: ExecutionRecord, now: int) -> None:
        self.engine = engine
        self.store = engine.store
        self.record = record
        self.body = record.body
        self.runtime = record.runtime
        self.now = now
        self.changed = False

    def rt(self, task: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = self.runtime["tasks"][task["id"]]
        return state

    def advance(self) -> bool:
        if self.body["state"] == "PAUSED":
            return False
        if self.body["state"] == "PENDING":
            self.set_execution_state("RUNNING")
        rollback = self.runtime.get("rollback")
        if self.body["state"] == "ROLLBACK":
            if rollback and self.now >= rollback["due"]:
                self.runtime["rollback"] = None
                self.finish_execution(rollback["to"])
            return self.changed
        progressed = True
        while progressed and self.body["state"] == "RUNNING":
            progressed = self._pass()
        if self.body["state"] == "RUNNING":
            self._maybe_finish()
        return self.changed

    def _pass(self) -> bool:
        """Move every task whose time has come; True when something moved."""
        by_name = {t["operator"]["name"]: t for t in self.body["tasks"]}
        upstream = upstream_map(self.body["template"])
        blocked = any(
            self.rt(t)["phase"] in ("done", "failed_paused") and t["state"] == "FAILED"
            for t in self.body["tasks"]
        )
        moved = False
        for task in self.body["tasks"]:
            state = self.rt(task)
            phase = state["phase"]
            if phase == "waiting" and not blocked:
                if all(by_name[u]["state"] == "SUCCESS" for u in upstream[task["operator"]["name"]]):
                    delay = task["operator"].get("scheduleDelayMilli") or 0
                    if delay > 0:
                        state.update(phase="delay", due=self.now + self.engine.scaled(delay))
                        self.log(task, "INFO", f"scheduled to start in {delay} ms")
                        self.touch(task)
                    else:
                        self._gate(task)
                    moved = True
            elif phase == "delay" and self.now >= state["due"]:
                self._gate(task)
                moved = True
            elif phase == "running" and self.now >= min(state["due"], state.get("deadline") or state["due"]):
                self._finish_attempt(task)
                moved = True
            elif phase == "retry" and self.now >= state["due"]:
                self.start_attempt(task)
                moved = True
            if self.body["state"] != "RUNNING":
                return False
        return moved

    def _gate(self, task: dict[str, Any]) -> None:
        state = self.rt(task)
        if task["operator"].get("manually") and not state.get("approved"):
            state.update(phase="approval", due=None)
            self.log(task, "INFO", "manual step: waiting for approval")
            self.touch(task)
            self.pause("approval", f"step {task['operator']['name']!r} waits for approval")
            return
        self.start_attempt(task)

    def start_attempt(self, task: dict[str, Any]) -> None:
        state = self.rt(task)
        step = task["operator"]
        resolved: dict[str, Any] = {}
        missing: list[str] = []
        params = self.params(task, resolved, missing)
        task["context"] = resolved
        state["attempt"] = state.get("attempt", 0) + 1
        duration = actions.planned_duration_ms(step["operator"], params)
        timeout = step.get("timeout") or 0
        state.update(
            phase="running",
            due=self.now + self.engine.scaled(duration),
            deadline=self.now + self.engine.scaled(timeout) if timeout > 0 else None,
        )
        task["state"] = "RUNNING"
        task.pop("finishedTimestamp", None)  # a step run again after pauseOnFailure
        attempt_note = f" (retry {task['tries']})" if task["tries"] else ""
        self.log(task, "INFO", f"{step['operator']} started{attempt_note}")
        for name in dict.fromkeys(missing):
            self.log(task, "WARN", f"Ref {name!r} is not an execution property; left unresolved")
        self.touch(task)

    def params(self, task: dict[str, Any], resolved: dict[str, Any], missing: list[str]) -> dict[str, Any]:
        """The step's input with `{"Ref": …}` replaced by execution properties (defaults included)."""
        params: dict[str, Any] = resolve_refs(
            task["initContext"], self.runtime.get("allProperties") or {}, resolved, missing
        )
        return params

    def _finish_attempt(self, task: dict[str, Any]) -> None:
        state = self.rt(task)
        step = task["operator"]
        if state.get("deadline") is not None and state["deadline"] <= state["due"]:
            result = actions.ActionResult(ok=False, reason=f"timed out after {step['timeout']} ms")
        else:
            params = self.params(task, {}, [])
            result = actions.run_action(step["operator"], params, self.store.instances, state["attempt"])
        for line in result.log:
            self.log(task, "INFO", line)
        task["outputContext"] = result.outputs
        if result.ok:
            self.log(task, "INFO", f"{step['operator']} succeeded")
            self.finish_task(task, "SUCCESS")
            return
        self.log(task, "ERROR", result.reason or "failed")
        if task["tries"] < (step.get("retries") or 0):
            task["tries"] += 1
            interval = step.get("retryInterval") or 0
            state.update(phase="retry", due=self.now + self.engine.scaled(interval), deadline=None)
            task["state"] = "UP_FOR_RETRY"
            task["reason"] = result.reason
            self.log(task, "INFO", f"retry {task['tries']} of {step['retries']} in {interval} ms")
            self.touch(task)
            return
        self.finish_task(task, "FAILED", reason=result.reason)
        if step.get("pauseOnFailure"):
            state["phase"] = "failed_paused"
            self.pause("failure", f"step {step['name']!r} failed and pauseOnFailure is set")
            return
        params = self.params(task, {}, [])
        rollback_to = actions.rollback_outcome(step["operator"], params)
        if rollback_to:  # undoing the step takes as long as the step ran
            duration = actions.planned_duration_ms(step["operator"], params)
            self.runtime["pendingRollback"] = {"to": rollback_to, "ms": duration}

    def _maybe_finish(self) -> None:
        tasks = self.body["tasks"]
        if any(self.rt(t)["phase"] in ("delay", "running", "retry", "approval") for t in tasks):
            return
        failed = [t for t in tasks if t["state"] == "FAILED"]
        if not failed and all(t["state"] == "SUCCESS" for t in tasks):
            self.finish_execution("SUCCESS")
            return
        if not failed:
            return
        self._mark_unreachable()
        rollback = self.runtime.pop("pendingRollback", None)
        if rollback:
            self.set_execution_state("ROLLBACK")
            due = self.now + self.engine.scaled(rollback["ms"])
            self.runtime["rollback"] = {"to": rollback["to"], "due": due}
            return
        self.finish_execution("FAILED")

    def _mark_unreachable(self) -> None:
        """Steps that never started: UPSTREAM_FAILED below a failure, SKIPPED elsewhere."""
        by_name = {t["operator"]["name"]: t for t in self.body["tasks"]}
        upstream = upstream_map(self.body["template"])
        changed = True
        while changed:
            changed = False
            for task in self.body["tasks"]:
                if self.rt(task)["phase"] == "waiting" and any(
                    by_name[u]["state"] in ("FAILED", "UPSTREAM_FAILED")
                    for u in upstream[task["operator"]["name"]]
                ):
                    self.finish_task(task, "UPSTREAM_FAILED", reason="an upstream step failed")
                    changed = True
        for task in self.body["tasks"]:
            if self.rt(task)["phase"] == "waiting":
                self.finish_task(task, "SKIPPED")

    # --- mutations ----------------------------------------------------------------------------
    def finish_task(self, task: dict[str, Any], state: str, reason: str | None = None) -> None:
        self.rt(task).update(phase="done", due=None, deadline=None)
        task["state"] = state
        if reason:
            task["reason"] = reason
        elif state == "SUCCESS":
            task.pop("reason", None)
        task["finishedTimestamp"] = self.now
        self.touch(task)

    def pause(self, reason: str, message: str) -> None:
        self.runtime.update(pausedAt=self.now, pauseReason=reason)
        self.set_execution_state("PAUSED")
        self.runtime["pauseMessage"] = message

    def unpause(self) -> None:
        """Leave PAUSED; shift pending due times by the time spent paused."""
        paused_at = self.runtime.get("pausedAt") or self.now
        shift = max(0, self.now - paused_at)
        for state in self.runtime["tasks"].values():
            if state["phase"] in ACTIVE_PHASES:
                for key in ("due", "deadline"):
                    if state.get(key) is not None:
                        state[key] += shift
        self.runtime.update(pausedAt=None, pauseReason=None)
        self.set_execution_state("RUNNING")

    def finish_execution(self, state: str) -> None:
        self.set_execution_state(state)
        self.body["finishedTimestamp"] = self.now

    def set_execution_state(self, state: str) -> None:
        self.body["state"] = state
        self.body["updatedTimestamp"] = self.now
        self.changed = True

    def touch(self, task: dict[str, Any]) -> None:
        task["revision"] = self.store.next_revision()
        task["updatedTimestamp"] = self.now
        self.body["updatedTimestamp"] = self.now
        self.changed = True

    def log(self, task: dict[str, Any], level: str, message: str) -> None:
        task["log"].append({"timestamp": self.now, "level": level, "msg": message, "tags": []})
        self.changed = True
