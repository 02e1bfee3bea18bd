"""Exactly-once create against the emulator (issue 10): the emulator commits the create, then the
answer is lost (dropped, 500, 503 after commit, or held past the read timeout) and the new execution
shows in the list only a moment later. The hook returns the execution's own id; nothing is resent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_oos.hooks.create_token import CREATE_TOKEN_TAG
from airflow_provider_oos.hooks.oos import OosHook

CREATE_PATHS = {"seed": "/api/logic/oos/v2/execution", "openapi": "/v2/execution"}
TEMPLATE = {
    "name": "exactly-once",
    "operators": [
        {"name": "say", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "echo hi"}},
    ],
}
FAULTS = {
    "drop": {"drop": 1.0},
    "500": {"error500": 1.0},
    "503 after commit": {"error503AfterCommit": 1.0},
    "read timeout": {"answerDelayMs": 1500},
}


def extras_for(style: str) -> dict[str, Any]:
    """Short timeouts and retries, in the seed or the OpenAPI path style."""
    extras: dict[str, Any] = {"timeout": 0.8, "max_retries": 2, "retry_wait_min": 0.1, "retry_wait_max": 0.4}
    return {**extras, "base_path": ""} if style == "openapi" else extras


@pytest.mark.parametrize("style", list(CREATE_PATHS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_committed_create_with_a_lost_answer_is_found_not_resent(
    oos_emulator: Any, hook_factory: Callable[..., OosHook], fault: str, style: str
) -> None:
    hook = hook_factory(oos_emulator, **extras_for(style))
    oos_emulator.set_faults(
        path=CREATE_PATHS[style], method="POST", listVisibilityDelayMs=300, **FAULTS[fault]
    )
    execution_id = hook.create_execution(TEMPLATE, tags={"team": "ops"})
    oos_emulator.clear_faults()
    held = oos_emulator.executions()
    assert [e["id"] for e in held] == [execution_id], "exactly one execution, and it is the one returned"
    assert oos_emulator.create_calls() == 1
    tags = {t["tagKey"]: t["tagValue"] for t in hook.get_execution(execution_id).to_api()["tags"]}
    assert tags["team"] == "ops" and len(tags[CREATE_TOKEN_TAG]) == 32
