"""Issue 10's faults over real HTTP: a create that is committed and then loses its answer (dropped,
500, 503, held past the client's timeout), and a delay before a new execution shows in the list.

Each test proves the execution WAS created although the answer failed: the admin API counts it,
and the list call finds it by its unique tag (how a client recovers an ambiguous create).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
from emulator_client import API, Oos, step, template
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import signed_headers

STYLES = [pytest.param(API, id="seed-style"), pytest.param("", id="openapi-style")]


def create_body(token: str) -> dict[str, Any]:
    return {"template": template(step("a"), name="guarded"), "tags": [{"tagKey": "token", "tagValue": token}]}


def found_by_token(oos: Oos, token: str) -> list[str]:
    page = oos.ok(
        "POST", "/v2/execution/list", body={"pageNo": 1, "pageSize": 100, "template": {"name": "guarded"}}
    )
    return [e["id"] for e in page["executions"] if {"tagKey": "token", "tagValue": token} in e["tags"]]


@pytest.mark.parametrize("base", STYLES)
@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"drop": 1.0}, None, None),
        ({"error500": 1.0}, 500, "InternalError"),
        ({"error503AfterCommit": 1.0}, 503, "ServiceUnavailable"),
    ],
    ids=["dropped", "500", "503-after-commit"],
)
def test_a_committed_create_whose_answer_fails_still_made_the_execution(
    oos_emulator: EmulatorHandle, base: str, fault: dict[str, Any], status: int | None, code: str | None
) -> None:
    oos = Oos(oos_emulator, base_path=base)
    oos_emulator.set_faults(path=f"{base}/v2/execution", method="POST", **fault)
    token = uuid.uuid4().hex
    if status is None:
        with pytest.raises(requests.ConnectionError):
            oos.call("POST", "/v2/execution", body=create_body(token))
    else:
        response = oos.call("POST", "/v2/execution", body=create_body(token))
        assert response.status_code == status and response.json()["code"] == code
        assert "result" not in response.json()  # a gateway body: the id is lost
    assert oos_emulator.create_calls() == 1 and len(oos_emulator.executions()) == 1
    oos_emulator.clear_faults()
    [execution_id] = found_by_token(oos, token)
    assert execution_id == oos_emulator.executions()[0]["id"]
    assert oos.wait(execution_id)["state"] == "SUCCESS"  # a real execution, run to the end
    assert "Traceback" not in oos_emulator.output()


def test_a_503_before_commit_makes_nothing_but_after_commit_does(oos_emulator: EmulatorHandle) -> None:
    oos = Oos(oos_emulator)
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", error503=1.0)
    refused = oos.call("POST", "/v2/execution", body=create_body("before"))
    assert refused.status_code == 503 and oos_emulator.executions() == []
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", error503AfterCommit=1.0)
    after = oos.call("POST", "/v2/execution", body=create_body("after"))
    assert after.status_code == 503 and after.json() | {"requestId": None} == refused.json() | {
        "requestId": None
    }
    assert len(oos_emulator.executions()) == 1  # the same answer, a different truth


@pytest.mark.parametrize("base", STYLES)
def test_an_answer_held_past_the_client_timeout_after_commit(oos_emulator: EmulatorHandle, base: str) -> None:
    oos = Oos(oos_emulator, base_path=base)
    oos_emulator.set_faults(path=f"{base}/v2/execution", method="POST", answerDelayMs=3000)
    token = uuid.uuid4().hex
    url = f"{oos.url}{base}/v2/execution"
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        oos.session.post(
            url, json=create_body(token), headers=signed_headers(oos.credentials, "POST", url), timeout=0.5
        )
    assert time.monotonic() - started < 2.5
    # Committed before the answer was held: it exists while the client is still waiting in vain.
    assert len(oos_emulator.executions()) == 1 and oos_emulator.create_calls() == 1
    assert len(found_by_token(oos, token)) == 1
    # A patient client gets the held answer, with the id.
    patient = time.monotonic()
    answer = oos.call("POST", "/v2/execution", body=create_body("patient"))
    assert answer.status_code == 200 and answer.json()["result"]["id"].startswith("d-")
    assert time.monotonic() - patient >= 3.0 and len(oos_emulator.executions()) == 2
    assert "Traceback" not in oos_emulator.output()


def test_held_answer_combines_with_a_failure_and_rates(oos_emulator: EmulatorHandle) -> None:
    oos = Oos(oos_emulator)
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", error500=1.0, answerDelayMs=300)
    started = time.monotonic()
    assert oos.call("POST", "/v2/execution", body=create_body("x")).status_code == 500
    assert time.monotonic() - started >= 0.3 and len(oos_emulator.executions()) == 1
    oos_emulator.set_faults(path=f"{API}/v1/operator/list", answerDelayMs=300, answerDelayRate=0.0)
    started = time.monotonic()
    assert oos.call("POST", "/v1/operator/list", body={}).status_code == 200
    assert time.monotonic() - started < 0.3
    rules = {r["path"]: r for r in oos_emulator.admin("GET", "faults")["faults"]}
    assert rules[f"{API}/v2/execution"] | {"error500": 0} == {
        "path": f"{API}/v2/execution",
        "method": "POST",
        "error500": 0,
        "error503": 0.0,
        "error503AfterCommit": 0.0,
        "error429": 0.0,
        "drop": 0.0,
        "latencyMs": 0,
        "latencyRate": 1.0,
        "answerDelayMs": 300,
        "answerDelayRate": 1.0,
        "listVisibilityDelayMs": 0,
    }


@pytest.mark.parametrize("base", STYLES)
def test_a_new_execution_shows_in_the_list_only_after_the_visibility_delay(
    oos_emulator: EmulatorHandle, base: str
) -> None:
    oos = Oos(oos_emulator, base_path=base)
    oos_emulator.set_faults(path=f"{base}/v2/execution", method="POST", listVisibilityDelayMs=1500)
    token = uuid.uuid4().hex
    created = time.monotonic()
    execution_id = oos.ok("POST", "/v2/execution", body=create_body(token))["id"]
    assert oos.get(execution_id)["id"] == execution_id  # GET sees it at once: only the list lags
    assert found_by_token(oos, token) == []
    while time.monotonic() - created < 1.3:
        assert found_by_token(oos, token) == []
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while not found_by_token(oos, token):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert time.monotonic() - created >= 1.5 and found_by_token(oos, token) == [execution_id]
    oos_emulator.clear_faults()  # executions made later are visible at once
    later = uuid.uuid4().hex
    oos.ok("POST", "/v2/execution", body=create_body(later))
    assert len(found_by_token(oos, later)) == 1


def test_the_visibility_delay_follows_the_path_style_it_was_set_for(oos_emulator: EmulatorHandle) -> None:
    oos_emulator.set_faults(path="/v2/execution", method="POST", listVisibilityDelayMs=60000)
    seed_style, openapi = Oos(oos_emulator), Oos(oos_emulator, base_path="")
    seed_style.ok("POST", "/v2/execution", body=create_body("seed"))
    openapi.ok("POST", "/v2/execution", body=create_body("openapi"))
    assert found_by_token(openapi, "seed") and not found_by_token(openapi, "openapi")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"path": "/v2/execution", "method": "GET", "listVisibilityDelayMs": 100},
            "only to the create-execution",
        ),
        ({"path": "/v2/template", "listVisibilityDelayMs": 100}, "only to the create-execution"),
        ({"path": "/v2/execution", "answerDelayMs": -1}, "answerDelayMs must be a non-negative integer"),
        ({"path": "/v2/execution", "answerDelayMs": 1.5}, "answerDelayMs must be a non-negative integer"),
        ({"path": "/v2/execution", "answerDelayRate": 2}, "answerDelayRate must be a probability"),
        ({"path": "/v2/execution", "error503AfterCommit": 0.6, "error500": 0.6}, "must not exceed 1"),
        ({"path": "/console/execution/d-1", "drop": 1}, "OOS API path"),
    ],
)
def test_bad_new_fault_specs_are_refused(
    oos_emulator: EmulatorHandle, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuntimeError, match="HTTP 400") as refused:
        oos_emulator.admin("POST", "faults", spec)
    assert message in str(refused.value)
