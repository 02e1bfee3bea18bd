"""Property tests on the models and the state logic (hypothesis).

Every execution state, known or not, falls in exactly one class: final-success, final-failure or
waiting (paused is a kind of waiting); and generated executions survive a JSON round trip.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_oos.client import models
from airflow_provider_oos.client.models import Execution, ExecutionState

from .figures import record

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Round trips build deep pydantic trees (~20 ms each): 1000 keeps the full run well inside its budget.
FULL_ROUND_TRIPS = settings(FULL, max_examples=1000)

KNOWN_STATES = [state.value for state in ExecutionState] + ["CANCELLED"]
# Known states, near misses (case, spacing, the other spelling) and arbitrary text.
states = st.one_of(
    st.sampled_from(KNOWN_STATES),
    st.sampled_from(KNOWN_STATES).map(str.lower),
    st.sampled_from(KNOWN_STATES).map(lambda s: f" {s} "),
    st.text(max_size=20),
    st.none(),
)


def classes_of(state: str | None) -> list[str]:
    found = []
    if models.is_final(state) and models.is_successful(state):
        found.append("final-success")
    if models.is_final(state) and models.is_failed(state):
        found.append("final-failure")
    if not models.is_final(state):
        found.append("waiting")
    return found


def check_state(state: str | None) -> None:
    assert len(classes_of(state)) == 1, (state, classes_of(state))
    # final == success or failure, and the two never overlap
    assert models.is_final(state) == (models.is_successful(state) or models.is_failed(state))
    assert not (models.is_successful(state) and models.is_failed(state))
    # paused is waiting, never final
    if models.is_paused(state):
        assert not models.is_final(state)
    # an unknown state is never final (the provider keeps waiting and logs it)
    if not models.is_known(state):
        assert not models.is_final(state)


def test_known_states_are_classified_as_documented() -> None:
    expected = {
        "PENDING": "waiting",
        "RUNNING": "waiting",
        "PAUSED": "waiting",
        "ROLLBACK": "waiting",
        "SUCCESS": "final-success",
        "FAILED": "final-failure",
        "CANCELED": "final-failure",
        "CANCELLED": "final-failure",
        "ROLLBACK_SUCCESS": "final-failure",
        "ROLLBACK_FAILED": "final-failure",
    }
    assert set(expected) == set(KNOWN_STATES)
    assert {state: classes_of(state) for state in expected} == {s: [c] for s, c in expected.items()}


@FAST
@given(states)
def test_every_state_is_classified_exactly_once_fast(state: str | None) -> None:
    check_state(state)
    record("property tests", states_classified=1)
    execution = Execution(id="d-prop", state=state)
    assert execution.is_final == models.is_final(state)
    assert execution.is_successful == models.is_successful(state)
    assert execution.is_failed == models.is_failed(state)


# ---- generated executions ------------------------------------------------------------------------

names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1, max_size=12)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    names,
    st.floats(allow_nan=False, allow_infinity=False),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
epoch_ms = st.integers(0, 2**42)
# Fields the service may add that our models do not know: they must be kept.
EXTRA_NAMES = ["zoneHint", "ownerUid", "x_extra", "costCenter"]
unknown_fields = st.dictionaries(st.sampled_from(EXTRA_NAMES), json_value)


def step_json() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"name": names},
        optional={
            "operator": st.sampled_from(["BCE::BCC::StopInstance", "BCE::Agent::ExecuteShell", "X::Y"]),
            "retries": st.integers(0, 5),
            "retryInterval": st.integers(0, 10**6),
            "timeout": st.integers(0, 10**7),
            "manually": st.booleans(),
            "pauseOnFailure": st.booleans(),
            "properties": st.dictionaries(names, json_value, max_size=3),
        },
    )


def task_json(children: st.SearchStrategy[list[dict[str, Any]]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "id": names,
            "state": st.sampled_from(["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "NEW_ONE"]),
            "operator": step_json(),
            "reason": names,
            "createdTimestamp": epoch_ms,
            "outputContext": st.dictionaries(names, json_value, max_size=3),
            "tries": st.integers(0, 9),
            "log": st.lists(
                st.fixed_dictionaries({"timestamp": epoch_ms, "level": st.just("INFO"), "msg": names}),
                max_size=2,
            ),
            "children": children,
        },
    )


tasks = st.recursive(
    st.just([]),
    lambda inner: st.lists(task_json(inner), max_size=3),
    max_leaves=6,
)
executions = st.builds(
    lambda required, optional, extra: {**extra, **required, **optional},
    st.fixed_dictionaries({"id": names.map(lambda s: "d-" + s)}),
    st.fixed_dictionaries(
        {},
        optional={
            "state": states,
            "description": names,
            "createdTimestamp": epoch_ms,
            "finishedTimestamp": epoch_ms,
            "properties": st.dictionaries(names, json_value, max_size=3),
            # execution tags in the published shape (oos-api.md: tagKey/tagValue); the older
            # key/value shape is read too, but written back as the published one (tests/test_models.py)
            "tags": st.lists(st.fixed_dictionaries({"tagKey": names, "tagValue": names}), max_size=2),
            "tasks": tasks,
            "trigger": st.sampled_from(["MANUAL", "SCHEDULED"]),
            "template": st.fixed_dictionaries(
                {"name": names},
                optional={"linear": st.booleans(), "operators": st.lists(step_json(), max_size=2)},
            ),
        },
    ),
    unknown_fields,
)


def check_round_trip(data: dict[str, Any]) -> None:
    wire = json.loads(json.dumps(data))
    execution = Execution.model_validate(wire)
    assert execution.to_api() == wire
    again = Execution.model_validate(json.loads(json.dumps(execution.to_api())))
    assert again == execution
    assert again.to_api() == wire
    # every task found by walking the tree is one of the generated tasks
    assert len(execution.all_tasks()) == _count_tasks(wire.get("tasks", []))


def _count_tasks(items: list[dict[str, Any]]) -> int:
    return sum(1 + _count_tasks(item.get("children") or []) for item in items)


@FAST
@given(executions)
def test_generated_executions_round_trip_through_json_fast(data: dict[str, Any]) -> None:
    check_round_trip(data)
    record("property tests", executions_round_tripped=1)


@pytest.mark.reliability
@FULL
@given(states)
def test_every_state_is_classified_exactly_once_full(state: str | None) -> None:
    check_state(state)
    record("property tests", states_classified=1)


@pytest.mark.reliability
@FULL_ROUND_TRIPS
@given(executions)
def test_generated_executions_round_trip_through_json_full(data: dict[str, Any]) -> None:
    check_round_trip(data)
    record("property tests", executions_round_tripped=1)
