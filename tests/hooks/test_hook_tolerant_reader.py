"""Property: arbitrary JSON in any field the provider does not decide on, inside a real answer
served over real HTTP, never makes `get_execution` fail (issue 9, the tolerant reader)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_oos.hooks.oos import OosHook
from tests.support.oos_server import SECRET_KEY, Reply, ScriptedOosServer

SEED = json.loads((Path(__file__).parents[1] / "support" / "seed_get_execution.json").read_text())


def base_answer() -> dict[str, Any]:
    """The seed's answer, plus what a newer answer carries (tags, a log, a loop child), so that
    every field below exists in it."""
    document = copy.deepcopy(SEED)
    result = document["result"]
    result["tags"] = [{"tagKey": "team", "tagValue": "ops"}]
    task = result["tasks"][0]
    task["log"] = [{"timestamp": "2026-11-28T03:00:01Z", "level": "INFO", "msg": "done", "tags": {}}]
    task["children"] = [{**copy.deepcopy(task), "id": "t-child", "loopIndex": 0, "children": []}]
    return document


# Where the provider decides nothing: every field but ids, states, step names, reasons, outputs
# and children. (Paths into the answer's `result`.)
EXECUTION_FIELDS = [
    "description", "template", "templateDeleted", "parallelism", "manually", "createdTimestamp",
    "updatedTimestamp", "finishedTimestamp", "properties", "tags", "trigger", "errorCode",
    "cronExecution", "eventExecution", "locale", "somethingNew",
]  # fmt: skip
TASK_FIELDS = [
    "loopIndex", "namespace", "dag", "revision", "createdTimestamp", "updatedTimestamp",
    "finishedTimestamp", "errorCode", "initContext", "context", "outputContext", "tries", "log",
    "userId", "somethingNew",
]  # fmt: skip
STEP_FIELDS = [
    "operator", "description", "retries", "retryInterval", "timeout", "parallelismControl",
    "allowedFailureControl", "manually", "scheduleDelayMilli", "pauseOnFailure", "properties",
    "initContext", "loops", "triggerRule", "somethingNew",
]  # fmt: skip
TEMPLATE_FIELDS = ["id", "name", "type", "description", "tags", "linear", "links", "operators", "properties"]
LOG_FIELDS = ["timestamp", "level", "msg", "tags", "somethingNew"]
TAG_FIELDS = ["tagValue", "somethingNew"]

PATHS: list[tuple[Any, ...]] = (
    [(field,) for field in EXECUTION_FIELDS]
    + [("template", field) for field in TEMPLATE_FIELDS]
    + [("template", "operators", 0, field) for field in STEP_FIELDS]
    + [(*task, field) for task in (("tasks", 0), ("tasks", 0, "children", 0)) for field in TASK_FIELDS]
    + [
        (*task, "operator", field)
        for task in (("tasks", 0), ("tasks", 0, "children", 0))
        for field in STEP_FIELDS
    ]
    + [("tasks", 0, "log", 0, field) for field in LOG_FIELDS]
    + [("tags", 0, field) for field in TAG_FIELDS]
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def inject(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> bool:
    """Put `value` at `path` inside the answer's result; False when an earlier change removed the way."""
    node: Any = document["result"]
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return False
        elif not isinstance(node, dict) or step not in node:
            return False
        node = node[step]
    if not isinstance(node, dict):
        return False
    node[path[-1]] = value
    return True


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedOosServer]:
    with ScriptedOosServer(access_key="test-ak", secret_key=SECRET_KEY) as scripted:
        yield scripted


@pytest.fixture(scope="module")
def hook(server: ScriptedOosServer) -> Iterator[OosHook]:
    conn_id = f"oos_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", server.conn_json(max_retries=0))
        yield OosHook(oos_conn_id=conn_id)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(PATHS), JSON, min_size=1, max_size=30), with_log=st.booleans())
def test_get_execution_never_fails_on_json_in_fields_it_does_not_decide_on(
    server: ScriptedOosServer, hook: OosHook, changes: dict[tuple[Any, ...], Any], with_log: bool
) -> None:
    document = base_answer()
    for path, value in changes.items():
        inject(document, path, value)
    server.script("GET", "/v2/execution", Reply(json=document))

    execution = hook.get_execution("d-1", with_log=with_log)

    # What the provider decides on is read exactly.
    sent = document["result"]
    assert execution.id == sent["id"] and execution.state == sent["state"]
    assert execution.task_states() == {"stop_bcc": "SUCCESS"}
    task = execution.tasks[0]
    assert task.id == sent["tasks"][0]["id"] and [c.id for c in task.children or ()] == ["t-child"]
    outputs = sent["tasks"][0]["outputContext"]
    assert task.outputs == (
        outputs if isinstance(outputs, dict) else {} if outputs is None else {"value": outputs}
    )
    # Nothing is lost: every field sent comes back when the execution is written out again.
    assert set(execution.to_api()) == set(sent)
    assert isinstance(execution.tag_map(), dict)
    assert all(isinstance(entry.text, str) for t in execution.all_tasks() for entry in t.log or ())
    assert json.loads(json.dumps(execution.to_api()))  # still JSON


GARBAGE = ["not what you think", 12.5, -(2**64), True, [1, "a", None], {"nested": {"deep": [1.5]}}, None, ""]


def test_every_field_it_does_not_decide_on_takes_any_json(server: ScriptedOosServer, hook: OosHook) -> None:
    """The same property, swept field by field with one value of each JSON kind (the random test
    above mixes fields; this makes sure none is missed)."""
    failures = []
    for path in PATHS:
        for value in GARBAGE:
            document = base_answer()
            assert inject(document, path, value), path
            server.script("GET", "/v2/execution", Reply(json=document))
            try:
                execution = hook.get_execution("d-1")
            except Exception as exc:  # collect them all, then report
                failures.append(f"{path} = {value!r}: {exc}")
                continue
            if execution.id != document["result"]["id"] or [t.name for t in execution.tasks] != ["stop_bcc"]:
                failures.append(f"{path} = {value!r}: decided fields changed")
    assert failures == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("id",), 5),
        (("state",), ["RUNNING"]),
        (("tasks",), "none"),
        (("tasks", 0, "state"), 1),
        (("tasks", 0, "children"), {}),
    ],
)
def test_fields_it_decides_on_stay_strict(
    server: ScriptedOosServer, hook: OosHook, path: tuple[Any, ...], value: Any
) -> None:
    """Ids, states, steps and children are what the provider decides on: a wrong type is an error,
    not a guess."""
    from airflow_provider_oos.exceptions import OosApiError

    document = base_answer()
    inject(document, path, value)
    server.script("GET", "/v2/execution", Reply(json=document))
    with pytest.raises(OosApiError, match="unexpected result shape for Execution"):
        hook.get_execution("d-1")
