"""Answers of get-execution in each published shape, built from the sources they come from.

- ``seed``: the vendor page's example (tests/support/seed_get_execution.json) as it is; a failure
  changes only state and reason. No `log` unless withLog was asked; no errorCode, no loopIndex.
- ``older``: the older docs/SDKs (bce-sdk-go `model.Execution`): execution tags as `key`/`value`,
  string log timestamps, log `tags` a string map. They know no withLog: logs always come.
- ``current``: the OpenAPI metadata and its generated SDK: execution tags `tagKey`/`tagValue`,
  ISO string log timestamps, `errorCode`, loop iterations as `children` with `loopIndex`, free JSON
  in contexts, and fields this provider has never heard of. `log` only with withLog.

Every shape builds RUNNING, SUCCESS and FAILED answers for any id, echoing the tags given.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).parents[1] / "support" / "seed_get_execution.json"
SHAPES = ("seed", "older", "current")
CREATED, UPDATED, FINISHED = 1713941313268, 1713941326534, 1713941326534

# What a failure must show (the current shape also fails inside a loop iteration).
FAILED_STEP = "stop_bcc"
STEP_REASON = "StopInstance failed for 1 of 3 instances"
STEP_ERROR_CODE = "Bcc.InstanceStopTimeout"
STEP_LOG_TAIL = "step tail: 1 instance(s) failed to stop, giving up"
CHILD_LOOP_INDEX = 2
CHILD_INSTANCE = "i-loop2fail"
CHILD_REASON = "instance did not reach Stopped in 600 s"
CHILD_LOG_TAIL = "child tail: still Running after 600 s"
CURRENT_OUTPUTS = {"stopped": ["i-a", "i-b", "i-c"], "count": 3}


def seed_answer() -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return answer


def _log(shape: str, *messages: str) -> list[dict[str, Any]]:
    if shape == "older":
        return [
            {"timestamp": f"2024-04-24 14:48:4{i}", "level": "INFO", "msg": m, "tags": {"host": "agent-1"}}
            for i, m in enumerate(messages)
        ]
    return [
        {"timestamp": f"2026-11-28T03:00:0{i}Z", "level": "ERROR" if i == len(messages) - 1 else "INFO",
         "msg": m, "tags": {"source": "agent", "seq": i}, "traceId": f"tr-{i}"}
        for i, m in enumerate(messages)
    ]  # fmt: skip


def _tags(shape: str, tags: list[tuple[str, str]]) -> list[dict[str, str]]:
    if shape == "older":
        return [{"key": k, "value": v} for k, v in tags]
    return [{"tagKey": k, "tagValue": v} for k, v in tags]


def _seed_like(shape: str, execution_id: str, state: str, with_log: bool, tags: list[tuple[str, str]]) -> Any:
    result = copy.deepcopy(seed_answer()["result"])
    result["id"] = execution_id
    result["state"] = state
    result["tags"] = _tags(shape, tags)
    task = result["tasks"][0]
    if state == "RUNNING":
        task["state"] = "RUNNING"
        task["outputContext"] = {}
        for obj in (result, task):
            obj.pop("finishedTimestamp", None)
    elif state == "FAILED":
        task["state"] = "FAILED"
        task["reason"] = STEP_REASON
        task["outputContext"] = {}
    if with_log or shape == "older":
        task["log"] = _log(shape, "BCE::BCC::StopInstance started", "stopping i-******kK")
        if state == "FAILED":
            task["log"] += _log(shape, "polling instance state", STEP_LOG_TAIL)[1:]
    return result


def _child(index: int, state: str, with_log: bool) -> dict[str, Any]:
    instance = CHILD_INSTANCE if index == CHILD_LOOP_INDEX else f"i-loop{index}ok"
    child: dict[str, Any] = {
        "id": f"t-child{index}", "loopIndex": index, "namespace": "oos", "revision": 10 + index,
        "createdTimestamp": CREATED, "updatedTimestamp": UPDATED, "state": state,
        "operator": {"name": FAILED_STEP, "operator": "BCE::BCC::StopInstance", "retries": 0,
                     "retryInterval": 300000, "timeout": 21600000},
        "initContext": {"instanceId": instance}, "context": None, "tries": 1, "children": [],
        "outputContext": {"instanceId": instance},
        "dag": {"id": "dag-inner", "dagActions": {"pause": False, "resume": False}},
    }  # fmt: skip
    if state in ("SUCCESS", "FAILED"):
        child["finishedTimestamp"] = FINISHED
    if state == "FAILED":
        child.update(reason=CHILD_REASON, errorCode=STEP_ERROR_CODE, outputContext={})
    if with_log:
        child["log"] = _log(
            "current", f"stopping {instance}", CHILD_LOG_TAIL if state == "FAILED" else "done"
        )
    return child


def _current(execution_id: str, state: str, with_log: bool, tags: list[tuple[str, str]]) -> Any:
    stop_state = {"RUNNING": "RUNNING", "SUCCESS": "SUCCESS", "FAILED": "FAILED"}[state]
    child_states = {"RUNNING": ["SUCCESS", "RUNNING", "PENDING"], "SUCCESS": ["SUCCESS"] * 3,
                    "FAILED": ["SUCCESS", "SUCCESS", "FAILED"]}[state]  # fmt: skip
    stop: dict[str, Any] = {
        "id": "t-stop", "namespace": "oos", "userId": "u-123", "revision": 79917077,
        "createdTimestamp": CREATED, "updatedTimestamp": UPDATED, "state": stop_state,
        "operator": {"name": FAILED_STEP, "operator": "BCE::BCC::StopInstance", "retries": 0,
                     "retryInterval": 300000, "timeout": 21600000, "loops": [{"instances": "${instances}"}],
                     "parallelismControl": {"ratio": 0.5}, "inline": True, "byBsmAgent": False},
        "initContext": "free text here is allowed", "context": [1, "two", {"three": 3}],
        "outputContext": CURRENT_OUTPUTS if state == "SUCCESS" else {}, "tries": 1,
        "children": [_child(i, s, with_log) for i, s in enumerate(child_states)],
        "brandNewTaskField": {"nested": [True, None, 1.5]},
    }  # fmt: skip
    patch_state = {"RUNNING": "PENDING", "SUCCESS": "SUCCESS", "FAILED": "UPSTREAM_FAILED"}[state]
    patch: dict[str, Any] = {
        "id": "t-patch", "revision": 79917078, "createdTimestamp": CREATED, "updatedTimestamp": UPDATED,
        "state": patch_state, "operator": {"name": "patch", "operator": "BCE::Agent::ExecuteShell"},
        "initContext": {}, "context": {}, "outputContext": {"PATCHED": "yes"} if state == "SUCCESS" else {},
        "tries": 0, "children": [],
    }  # fmt: skip
    if state == "FAILED":
        stop.update(reason=STEP_REASON, errorCode=STEP_ERROR_CODE)
    if state != "RUNNING":
        stop["finishedTimestamp"] = FINISHED
    if state == "SUCCESS":
        patch["finishedTimestamp"] = FINISHED
    if with_log:
        stop["log"] = _log("current", "BCE::BCC::StopInstance started", "3 loop iteration(s) scheduled")
        if state == "FAILED":
            stop["log"] += _log("current", STEP_LOG_TAIL)
        patch["log"] = []
    result: dict[str, Any] = {
        "id": execution_id, "description": "nightly stop",
        "template": {"name": "stop_then_patch", "type": "INDIVIDUAL", "linear": True,
                     "tags": [{"key": "team", "value": "ops"}], "links": [], "properties": [],
                     "updatedTime": "2026-11-27 10:00:00",
                     "supportedInstanceTypes": ["BCC"],
                     "operators": [stop["operator"], patch["operator"]]},
        "templateDeleted": False, "parallelism": 1, "manually": False,
        "createdTimestamp": CREATED, "updatedTimestamp": UPDATED, "state": state,
        "properties": {"instances": ["i-a", "i-b", "i-c"], "limits": {"max": 3}},
        "tags": _tags("current", tags), "tasks": [stop, patch], "trigger": "MANUAL", "locale": "zh-cn",
        "cronExecution": None, "eventExecution": None,
        "dagActions": {"pause": False, "resume": True}, "someFutureField": {"nested": [1, "x", None]},
    }  # fmt: skip
    if state == "FAILED":
        result.update(reason=STEP_REASON, errorCode=STEP_ERROR_CODE)
    if state != "RUNNING":
        result["finishedTimestamp"] = FINISHED
    return result


def execution(
    shape: str,
    execution_id: str,
    state: str,
    *,
    with_log: bool = False,
    tags: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The `result` of get-execution in a shape; `state` is RUNNING, SUCCESS or FAILED."""
    if shape == "current":
        return dict(_current(execution_id, state, with_log, tags or []))
    return dict(_seed_like(shape, execution_id, state, with_log, tags or []))


def expected_outputs(shape: str) -> dict[str, dict[str, Any]]:
    """Each top-level step's outputs in a SUCCESS answer of the shape, keyed by step name."""
    if shape == "current":
        return {FAILED_STEP: CURRENT_OUTPUTS, "patch": {"PATCHED": "yes"}}
    return {FAILED_STEP: seed_answer()["result"]["tasks"][0]["outputContext"]}


def check_template_result(shape: str) -> Any:
    """Older SDKs answer {isValid, reason}; the generated SDK reads no result at all."""
    return None if shape == "current" else {"isValid": True, "reason": ""}
