"""Steps with `loops`: one child task per iteration, as the OpenAPI metadata describes them.

A step's `loops` is a list, one entry per iteration. An entry is the iteration's input (for
example `{"instanceId": "i-a"}`), or `{"initContext": {...}}` (the metadata's LoopModel); its keys
replace the step's own input for that iteration. Each iteration is a child task with `loopIndex`
(0-based), its merged input in `initContext`, the input it acts on (refs resolved) in `context`,
and the step's retries, retryInterval and timeout.

How many iterations run at once: `parallelismControl.count` / `parallelismCount`, else
`ceil(ratio × n)` from `parallelismControl.ratio` / `parallelismRatio`; 0 or unset (the metadata's
default) means no limit. How many may fail before the step fails: `allowedFailureControl.count` /
`allowedFailureCount`, else `floor(ratio × n)`; default 0. A failing step names its first failed
iteration (loopIndex, instance, reason) and takes that iteration's errorCode. The step's
`outputContext` joins the list-valued outputs of its successful iterations, in loop order.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from oos_emulator.actions import instance_ids
from oos_emulator.store import random_id
from oos_emulator.texts import t

if TYPE_CHECKING:
    from oos_emulator.run import ExecutionPass


def is_loop_step(task: dict[str, Any], state: dict[str, Any]) -> bool:
    return bool(task["operator"].get("loops")) and not state.get("child")


def iteration_input(entry: dict[str, Any]) -> dict[str, Any]:
    inner = entry.get("initContext")
    source = inner if set(entry) <= {"initContext", "workerSelectors"} and isinstance(inner, dict) else entry
    return copy.deepcopy(source)


def _limit(step: dict[str, Any], prefix: str, size: int, rounding: Any) -> int | None:
    control = step.get(f"{prefix}Control") or {}
    count = control.get("count") if control.get("count") is not None else step.get(f"{prefix}Count")
    if count:
        return int(count)
    ratio = control.get("ratio") if control.get("ratio") is not None else step.get(f"{prefix}Ratio")
    if ratio:
        return int(rounding(ratio * size))
    return None


def parallel_limit(step: dict[str, Any], size: int) -> int:
    limit = _limit(step, "parallelism", size, math.ceil)
    return size if limit is None else max(1, limit)


def allowed_failures(step: dict[str, Any], size: int) -> int:
    return _limit(step, "allowedFailure", size, math.floor) or 0


def start(run: ExecutionPass, task: dict[str, Any]) -> None:
    """Start a loop step: create its iterations, or run its failed ones again (resume after a pause)."""
    step = task["operator"]
    if not task["children"]:
        for index, entry in enumerate(step["loops"]):
            child_input = iteration_input(entry)
            child = {
                "id": random_id("t-", 22),
                "loopIndex": index,
                "revision": run.store.next_revision(),
                "createdTimestamp": run.now,
                "updatedTimestamp": run.now,
                "state": "PENDING",
                "operator": copy.deepcopy(step),
                "initContext": {**copy.deepcopy(task["initContext"]), **child_input},
                "context": {},
                "outputContext": {},
                "tries": 0,
                "children": [],
                "log": [],
            }
            task["children"].append(child)
            run.runtime["tasks"][child["id"]] = {
                "phase": "waiting",
                "attempt": 0,
                "child": True,
                "loopInput": child_input,
            }
    else:
        for child in task["children"]:
            if child["state"] == "FAILED":
                run.rt(child).update(phase="waiting", due=None, deadline=None)
                child["state"] = "PENDING"
                child["tries"] += 1
                child.pop("reason", None)
                child.pop("errorCode", None)
                run.touch(child)
    run.rt(task).update(phase="looping", due=None, deadline=None)
    task["state"] = "RUNNING"
    task.pop("finishedTimestamp", None)
    task.pop("reason", None)
    task.pop("errorCode", None)
    size = len(task["children"])
    run.log(task, "INFO", f"{step['operator']} started: {size} loop iteration(s)")
    run.touch(task)


def advance(run: ExecutionPass, task: dict[str, Any]) -> bool:
    """Move the iterations of a looping step; finish the step when all are done."""
    children = task["children"]
    moved = False
    for child in children:
        moved = run.advance_attempt(child) or moved
    limit = parallel_limit(task["operator"], len(children))
    busy = sum(1 for child in children if run.rt(child)["phase"] in ("running", "retry"))
    for child in children:
        if busy >= limit:
            break
        if run.rt(child)["phase"] == "waiting":
            run.start_attempt(child)
            busy += 1
            moved = True
    if all(run.rt(child)["phase"] == "done" for child in children):
        _finish(run, task)
        moved = True
    return moved


def _finish(run: ExecutionPass, task: dict[str, Any]) -> None:
    step = task["operator"]
    children = task["children"]
    failed = [child for child in children if child["state"] == "FAILED"]
    allowed = allowed_failures(step, len(children))
    task["outputContext"] = _joined_outputs([c for c in children if c["state"] == "SUCCESS"])
    if len(failed) <= allowed:
        note = f" ({len(failed)} failed, {allowed} allowed)" if failed else ""
        run.log(task, "INFO", f"{step['operator']} succeeded: {len(children)} loop iteration(s){note}")
        run.finish_task(task, "SUCCESS")
        return
    first = failed[0]
    instances = instance_ids(first.get("context") or {})
    reason = t(
        "loop iteration {i}{on} failed: {why} ({n} of {size} iterations failed, {allowed} allowed)",
        "第 {i} 次循环迭代{on}失败：{why}（{size} 次迭代中 {n} 次失败，允许 {allowed} 次）",
        i=first["loopIndex"],
        on=t(" on {ids}", "（实例 {ids}）", ids=", ".join(instances)) if instances else "",
        why=run.reason_of(first),
        n=len(failed),
        size=len(children),
        allowed=allowed,
    )
    run.log(task, "ERROR", str(reason))
    run.finish_task(task, "FAILED", reason=reason, error_code=first.get("errorCode"))
    run.step_failed(task)


def _joined_outputs(children: list[dict[str, Any]]) -> dict[str, Any]:
    joined: dict[str, Any] = {}
    for child in children:
        for key, value in (child.get("outputContext") or {}).items():
            if isinstance(value, list):
                joined.setdefault(key, []).extend(copy.deepcopy(value))
    return joined
