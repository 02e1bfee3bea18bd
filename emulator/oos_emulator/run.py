"""One pass over one execution: every mutation of an execution's tasks and state lives here.

Task runtime phases: `waiting` (upstream not done) → `delay` (scheduleDelayMilli) → `approval`
(a `manually` step, execution PAUSED) → `running` → `retry` (UP_FOR_RETRY) → ... → `done`;
`failed_paused` is a failed step of a `pauseOnFailure` template waiting for a person; `looping`
is a step with `loops` whose iterations (child tasks, see `loops`) are under way.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from oos_emulator import actions, loops
from oos_emulator.store import ExecutionRecord, log_timestamp, random_id
from oos_emulator.templates import resolve_refs, upstream_map
from oos_emulator.texts import CANCELED_BY_USER, Text, put_reason, reason_of, t

if TYPE_CHECKING:
    from oos_emulator.engine import Engine

FINAL_EXECUTION_STATES = frozenset({"SUCCESS", "FAILED", "CANCELED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"})
ACTIVE_PHASES = frozenset({"delay", "running", "retry"})
BUSY_PHASES = ACTIVE_PHASES | {"approval", "looping"}


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


def new_runtime(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tasks": {t["id"]: {"phase": "waiting", "attempt": 0} for t in tasks},
        "pausedAt": None,
        "pauseReason": None,
        "rollback": None,
    }


def next_due(record: ExecutionRecord) -> int | None:
    """When the execution next needs a pass (loop iterations included); None: only an event moves it."""
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


class ExecutionPass:
    """One pass over one execution at time `now`."""

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
            elif phase in ("running", "retry"):
                moved = self.advance_attempt(task) or moved
            elif phase == "looping":
                moved = loops.advance(self, task) or moved
            if self.body["state"] != "RUNNING":
                return False
        return moved

    def advance_attempt(self, task: dict[str, Any]) -> bool:
        """Finish a due attempt or start a due retry (of a step or of one loop iteration)."""
        state = self.rt(task)
        if state["phase"] == "running" and self.now >= min(
            state["due"], state["due"] if state.get("deadline") is None else state["deadline"]
        ):
            self._finish_attempt(task)
            return True
        if state["phase"] == "retry" and self.now >= state["due"]:
            self.start_attempt(task)
            return True
        return False

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
        if loops.is_loop_step(task, state):
            loops.start(self, task)
            return
        step = task["operator"]
        resolved: dict[str, Any] = {}
        missing: list[str] = []
        params = self.params(task, resolved, missing)
        # A loop iteration shows the input it acts on (its instance) in its context.
        iteration = resolve_refs(state.get("loopInput") or {}, self.properties(), {}, [])
        task["context"] = {**resolved, **iteration}
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

    def properties(self) -> dict[str, Any]:
        found: dict[str, Any] = self.runtime.get("allProperties") or {}
        return found

    def params(self, task: dict[str, Any], resolved: dict[str, Any], missing: list[str]) -> dict[str, Any]:
        """The step's input with `{"Ref": …}` replaced by execution properties (defaults included)."""
        params: dict[str, Any] = resolve_refs(task["initContext"], self.properties(), resolved, missing)
        return params

    def _finish_attempt(self, task: dict[str, Any]) -> None:
        state = self.rt(task)
        step = task["operator"]
        if state.get("deadline") is not None and state["deadline"] <= state["due"]:
            result = actions.ActionResult(
                ok=False,
                reason=t("timed out after {ms} ms", "执行超时（{ms} 毫秒）", ms=step["timeout"]),
                error_code="Task.Timeout",
            )
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
        self.log(task, "ERROR", str(result.reason or "failed"))  # log lines stay English
        if task["tries"] < (step.get("retries") or 0):
            task["tries"] += 1
            interval = step.get("retryInterval") or 0
            state.update(phase="retry", due=self.now + self.engine.scaled(interval), deadline=None)
            task["state"] = "UP_FOR_RETRY"
            put_reason(task, result.reason, self.runtime)
            if result.error_code:
                task["errorCode"] = result.error_code
            self.log(task, "INFO", f"retry {task['tries']} of {step['retries']} in {interval} ms")
            self.touch(task)
            return
        self.finish_task(task, "FAILED", reason=result.reason, error_code=result.error_code)
        if not state.get("child"):  # a failed iteration is judged by its loop step
            self.step_failed(task)

    def step_failed(self, task: dict[str, Any]) -> None:
        """A step failed for good: pause for a person (pauseOnFailure) or plan a rollback."""
        step = task["operator"]
        if step.get("pauseOnFailure"):
            self.rt(task)["phase"] = "failed_paused"
            self.pause("failure", f"step {step['name']!r} failed and pauseOnFailure is set")
            return
        params = self.params(task, {}, [])
        rollback_to = actions.rollback_outcome(step["operator"], params)
        if rollback_to:  # undoing the step takes as long as the step ran
            duration = actions.planned_duration_ms(step["operator"], params)
            self.runtime["pendingRollback"] = {"to": rollback_to, "ms": duration}

    def _maybe_finish(self) -> None:
        tasks = self.body["tasks"]
        if any(self.rt(t)["phase"] in BUSY_PHASES for t in tasks):
            return
        failed = [t for t in tasks if t["state"] == "FAILED"]
        if not failed and all(t["state"] == "SUCCESS" for t in tasks):
            self.finish_execution("SUCCESS")
            return
        if not failed:
            return
        self._mark_unreachable()
        first = failed[0]
        put_reason(
            self.body,
            t(
                "step {name!r} failed: {why}",
                "步骤 {name!r} 失败：{why}",
                name=first["operator"]["name"],
                why=self.reason_of(first),
            ),
            self.runtime,
        )
        if first.get("errorCode"):
            self.body["errorCode"] = first["errorCode"]
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
                    self.finish_task(
                        task, "UPSTREAM_FAILED", reason=t("an upstream step failed", "上游步骤失败")
                    )
                    changed = True
        for task in self.body["tasks"]:
            if self.rt(task)["phase"] == "waiting":
                self.finish_task(task, "SKIPPED")

    # --- mutations ----------------------------------------------------------------------------
    def finish_task(
        self, task: dict[str, Any], state: str, reason: Text | None = None, error_code: str | None = None
    ) -> None:
        self.rt(task).update(phase="done", due=None, deadline=None)
        task["state"] = state
        if reason or state == "SUCCESS":
            put_reason(task, reason, self.runtime)
        if error_code:
            task["errorCode"] = error_code
        elif state == "SUCCESS":
            task.pop("errorCode", None)
        task["finishedTimestamp"] = self.now
        self.touch(task)

    def cancel_task(self, task: dict[str, Any]) -> None:
        """The execution is canceled: what runs fails, what waits is skipped (iterations too)."""
        phase = self.rt(task)["phase"]
        for child in task.get("children") or []:
            if child["id"] in self.runtime["tasks"] and self.rt(child)["phase"] != "done":
                self.cancel_task(child)
        if phase in ("running", "retry", "approval", "delay", "looping"):
            self.finish_task(task, "FAILED", reason=CANCELED_BY_USER, error_code="Execution.Canceled")
        elif phase == "waiting":
            self.finish_task(task, "SKIPPED")

    def reason_of(self, task: dict[str, Any]) -> Text:
        """A task's stored reason in both locales ("failed" when it has none)."""
        return reason_of(task, self.runtime) or t("failed", "失败")

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
        stamp = log_timestamp(self.now)
        task["log"].append({"timestamp": stamp, "level": level, "msg": message, "tags": []})
        self.changed = True
