"""The OOS emulator over real HTTP: every endpoint, engine transitions, actions, admin API, faults.

A small signed client (`auth.signed_headers` + `requests`) drives the session emulator
(`oos_emulator` fixture, time scale 0.02: a simulated second lasts 20 ms).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from emulator_client import (
    API,
    FINAL,
    Oos,
    log_ms,
    shell,
    started_at,
    step,
    tasks_by_name,
    template,
)
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import BceCredentials, signed_headers


@pytest.fixture
def oos(oos_emulator: EmulatorHandle) -> Oos:
    oos_emulator.seed_instances(["i-a", "i-b"])
    return Oos(oos_emulator)


# --- shapes ---------------------------------------------------------------------------------------
# The "查看任务执行" (get execution) answer of the vendor page (../shared/seeds/000_d0f97a1338fa0d0d.txt),
# kept here verbatim so the test does not depend on files outside the repository.
SEED_EXECUTION_JSON = """
{
 "id": "d-*********34r",
 "template": {
  "name": "test_oos_template",
  "type": "INDIVIDUAL",
  "tags": [],
  "linear": true,
  "links": [],
  "operators": [
   {
    "name": "stop_bcc",
    "operator": "BCE::BCC::StopInstance",
    "retries": 0,
    "retryInterval": 60000,
    "timeout": 3600000,
    "manually": false,
    "scheduleDelayMilli": 0,
    "pauseOnFailure": false,
    "properties": {
     "instanceId": {
      "Ref": "instanceId"
     },
     "instances": [
      {
       "instanceId": "i-******kK"
      }
     ]
    },
    "initContext": {}
   }
  ],
  "properties": []
 },
 "createdTimestamp": 1713941313268,
 "updatedTimestamp": 1713941326534,
 "finishedTimestamp": 1713941326534,
 "state": "SUCCESS",
 "properties": {},
 "tasks": [
  {
   "id": "t-*****************dMGNa",
   "revision": 79917077,
   "createdTimestamp": 1713941313269,
   "updatedTimestamp": 1713941326532,
   "finishedTimestamp": 1713941326532,
   "state": "SUCCESS",
   "operator": {
    "name": "stop_bcc",
    "operator": "BCE::BCC::StopInstance",
    "retries": 0,
    "retryInterval": 60000,
    "timeout": 3600000,
    "manually": false,
    "scheduleDelayMilli": 0,
    "pauseOnFailure": false,
    "properties": {},
    "initContext": {
     "instanceId": {
      "Ref": "instanceId"
     },
     "instances": [
      {
       "instanceId": "i-******kK"
      }
     ]
    }
   },
   "initContext": {
    "instanceId": {
     "Ref": "instanceId"
    },
    "instances": [
     {
      "instanceId": "i-******kK"
     }
    ]
   },
   "context": {},
   "outputContext": {
    "instances": [
     {
      "instanceId": "i-******kK"
     }
    ]
   },
   "tries": 0,
   "children": []
  }
 ],
 "tags": [],
 "trigger": "MANUAL"
}
"""


def _seed_execution() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SEED_EXECUTION_JSON)
    return result


def test_execution_json_matches_the_vendor_page_field_for_field(oos: Oos) -> None:
    seed = _seed_execution()
    stop = step(
        "stop_bcc",
        "BCE::BCC::StopInstance",
        retries=0,
        retryInterval=60000,
        timeout=3600000,
        properties={"instanceId": {"Ref": "instanceId"}, "instances": [{"instanceId": "i-a"}]},
    )
    before = int(time.time() * 1000)
    execution = oos.run({"name": "test_oos_template", "linear": True, "operators": [stop]})

    assert execution["state"] == "SUCCESS" and execution["trigger"] == "MANUAL"
    assert re.fullmatch(r"d-[A-Za-z0-9]{10,12}", execution["id"])
    assert set(seed) <= set(execution) <= set(seed) | {"description"}
    assert set(execution["template"]) == set(seed["template"])
    assert set(execution["template"]["operators"][0]) == set(seed["template"]["operators"][0])
    task, seed_task = execution["tasks"][0], seed["tasks"][0]
    assert set(seed_task) <= set(task) <= set(seed_task) | {"log", "reason"}
    assert set(task["operator"]) == set(seed_task["operator"])
    assert re.fullmatch(r"t-[A-Za-z0-9]{10,}", task["id"]) and isinstance(task["revision"], int)
    # As on the vendor page: the step's input moves to initContext, Refs left as written.
    assert task["initContext"] == seed_task["initContext"] | {"instances": [{"instanceId": "i-a"}]}
    assert task["operator"]["properties"] == {} and task["operator"]["initContext"] == task["initContext"]
    assert task["outputContext"] == {"instances": [{"instanceId": "i-a"}]} and task["tries"] == 0
    assert task["children"] == [] and task["log"]
    # Asked without withLog (as the seed's example was made): the same answer with no `log` at all.
    plain = oos.get(execution["id"])
    assert set(plain["tasks"][0]) == set(seed_task) and set(plain) == set(execution)
    assert plain["tasks"][0] == {k: v for k, v in task.items() if k != "log"}
    assert oos.get(execution["id"], with_log=False) == oos.ok(
        "GET", "/v2/execution", {"id": execution["id"], "withLog": "false", "locale": "en-us"}
    )
    for entry in task["log"]:
        assert set(entry) == {"timestamp", "level", "msg", "tags"} and isinstance(entry["timestamp"], str)
        assert before - 5 <= log_ms(entry) <= execution["finishedTimestamp"]
    for stamp in ("createdTimestamp", "updatedTimestamp", "finishedTimestamp"):
        assert before - 5 <= execution[stamp] <= int(time.time() * 1000) + 5
        assert before - 5 <= task[stamp] <= execution["finishedTimestamp"]
    assert execution["template"]["operators"][0]["properties"] == stop["properties"]


# --- templates -----------------------------------------------------------------------------------
def test_template_create_get_list_update_delete(oos: Oos) -> None:
    first = oos.ok("POST", "/v2/template", body=template(step("a"), name="alpha", description="d"))["id"]
    assert re.fullmatch(r"tpl-[A-Za-z0-9]{8}", first)
    second = oos.ok("POST", "/v2/template", body=template(step("b"), name="beta"))["id"]
    assert "already exists" in oos.error(400, "POST", "/v2/template", body=template(step("a"), name="alpha"))

    got = oos.ok("GET", "/v2/template", {"name": "alpha"})
    assert got["id"] == first and got["type"] == "INDIVIDUAL" and got["description"] == "d"
    assert got["operators"][0]["retries"] == 0 and got["links"] == [] and got["linear"] is True
    assert oos.ok("GET", "/v2/template", {"name": "alpha", "type": "INDIVIDUAL"})["id"] == first
    oos.error(404, "GET", "/v2/template", {"name": "alpha", "type": "GLOBAL"})
    oos.error(404, "GET", "/v2/template", {"name": "nope"})
    oos.error(400, "GET", "/v2/template")

    page = oos.ok(
        "POST", "/v2/template/list", body={"pageNo": 1, "pageSize": 1, "sort": "name", "ascending": True}
    )
    assert [t["name"] for t in page["templates"]] == ["alpha"]
    assert page | {"templates": None} == {
        "templates": None,
        "orderBy": "name",
        "order": "asc",
        "pageNo": 1,
        "pageSize": 1,
        "totalCount": 2,
    }
    page = oos.ok(
        "POST", "/v2/template/list", body={"pageNo": 2, "pageSize": 1, "sort": "name", "ascending": True}
    )
    assert [t["name"] for t in page["templates"]] == ["beta"]
    newest_first = oos.ok("POST", "/v2/template/list", body={"pageNo": 1, "pageSize": 10})
    assert [t["name"] for t in newest_first["templates"]] == ["beta", "alpha"]
    assert oos.ok("POST", "/v2/template/list", body={"name": "alp"})["totalCount"] == 1
    assert oos.ok("POST", "/v2/template/list", body={"type": "GLOBAL"})["totalCount"] == 0
    for bad in ({"pageNo": 0}, {"pageSize": 101}, {"sort": "color"}, {"ascending": "yes"}):
        oos.error(400, "POST", "/v2/template/list", body=bad)

    assert oos.ok("PUT", "/v2/template", body={**template(step("a2"), name="alpha2"), "id": first}) is None
    assert oos.ok("GET", "/v2/template", {"name": "alpha2"})["operators"][0]["name"] == "a2"
    oos.error(404, "GET", "/v2/template", {"name": "alpha"})
    assert "already exists" in oos.error(
        400, "PUT", "/v2/template", body={**template(step("x"), name="beta"), "id": first}
    )
    assert "id is required" in oos.error(400, "PUT", "/v2/template", body=template(step("x")))
    oos.error(404, "PUT", "/v2/template", body={**template(step("x")), "id": "tpl-missing0"})

    assert oos.ok("DELETE", "/v2/template", {"id": second}) is None
    oos.error(404, "DELETE", "/v2/template", {"id": second})
    oos.error(400, "DELETE", "/v2/template")
    assert oos.ok("POST", "/v2/template/list", body={})["totalCount"] == 1


BAD_TEMPLATES = [
    ({"operators": [step("a")]}, "name is required"),
    ({"name": "t", "operators": []}, "operators must be a non-empty list"),
    (template(step("a"), step("a")), "step names must be unique"),
    (template(step("a"), step("b"), linear=False), "links is required"),
    (template(step("a"), linear=False, links=[{"src": "a", "dst": "zz"}]), "unknown step 'zz'"),
    (
        template(
            step("a"), step("b"), linear=False, links=[{"src": "a", "dst": "b"}, {"src": "b", "dst": "a"}]
        ),
        "cycle",
    ),
    (template({"name": "a"}), "operator (the action type"),
    (template(step("a", retries="3")), "retries must be a non-negative integer"),
    (template(step("a", manually="yes")), "manually must be true or false"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_TEMPLATES)
def test_template_rules_enforced_by_check_create_and_execution(
    oos: Oos, body: dict[str, Any], reason: str
) -> None:
    check = oos.ok("POST", "/v2/template/check", body=body)
    assert check["isValid"] is False and reason in check["reason"]
    assert reason in oos.error(400, "POST", "/v2/template", body=body)
    assert reason in oos.error(400, "POST", "/v2/execution", body={"template": body})


def test_check_template_accepts_a_valid_dag(oos: Oos) -> None:
    body = template(step("a"), step("b"), linear=False, links=[{"src": "a", "dst": "b"}])
    assert oos.ok("POST", "/v2/template/check", body=body) == {"isValid": True, "reason": ""}


def test_list_operators_lives_under_v1_and_v2(oos: Oos) -> None:
    page = oos.ok("POST", "/v1/operator/list", body={"pageNo": 1, "pageSize": 100})
    names = {op["operator"] for op in page["operators"]}
    assert {
        "BCE::BCC::StopInstance",
        "BCE::BCC::StartInstance",
        "BCE::BCC::RebootInstance",
        "BCE::Agent::ExecuteShell",
    } == names and page["totalCount"] == 4
    assert "categories" not in page
    # The OpenAPI metadata's v2 list: the same operators plus categories [{name, sequence}].
    v2 = oos.ok("POST", "/v2/operator/list", body={"pageNo": 1, "pageSize": 100})
    assert {op["operator"] for op in v2["operators"]} == names and v2["totalCount"] == 4
    assert v2["categories"] and all(set(c) == {"name", "sequence"} for c in v2["categories"])
    shell = oos.ok(
        "POST", "/v2/operator/list", body={"pageNo": 1, "pageSize": 10, "operator": {"name": "shell"}}
    )
    assert [op["operator"] for op in shell["operators"]] == ["BCE::Agent::ExecuteShell"]
    assert "pageNo and pageSize required" in oos.error(400, "POST", "/v2/operator/list", body={})
    assert "Not Found" in oos.error(404, "POST", "/v3/operator/list", body={})
    assert "Method Not Allowed" in oos.error(405, "PATCH", "/v2/template", body={})


def test_malformed_body_is_a_business_error(oos: Oos) -> None:
    for query, expected in (
        ("", "请求体不是合法的 JSON"),
        ("?locale=en-us", "request body is not valid JSON"),
    ):
        url = f"{oos.url}{API}/v2/execution{query}"
        headers = signed_headers(oos.credentials, "POST", url)
        response = oos.session.post(url, data=b"{not json", headers=headers)
        assert response.status_code == 400 and expected in response.json()["msg"], response.text
    assert "template must be a JSON object" in oos.error(400, "POST", "/v2/execution", body={})
    oos.error(400, "POST", "/v2/execution", body={"template": template(step("a")), "properties": [1]})
    oos.error(400, "GET", "/v2/execution")
    assert "not found" in oos.error(404, "GET", "/v2/execution", {"id": "d-doesnotexist"})


# --- engine ------------------------------------------------------------------------------------
def test_execution_by_template_ref(oos: Oos) -> None:
    template_id = oos.ok("POST", "/v2/template", body=template(step("a"), step("b"), name="stored"))["id"]
    execution = oos.run({"ref": template_id, "name": "stored"})
    assert execution["state"] == "SUCCESS"
    assert (
        execution["template"]["id"] == template_id
        and [t["state"] for t in execution["tasks"]] == ["SUCCESS"] * 2
    )
    assert "not found" in oos.error(404, "POST", "/v2/execution", body={"template": {"ref": "tpl-missing0"}})


def test_linear_steps_run_one_after_another_through_pending_running_success(oos: Oos) -> None:
    execution_id = oos.create(template(shell("one", "# emulator: sleep 25"), step("two"), step("three")))
    seen = {oos.get(execution_id)["state"]}
    running = oos.wait(execution_id, {"RUNNING"})
    assert tasks_by_name(running)["one"]["state"] == "RUNNING"
    assert tasks_by_name(running)["two"]["state"] == "PENDING"
    execution = oos.wait(execution_id)
    seen.add(execution["state"])
    assert seen <= {"PENDING", "RUNNING", "SUCCESS"} and execution["state"] == "SUCCESS"
    one, two, three = execution["tasks"]
    assert one["finishedTimestamp"] - started_at(one) >= 25000 * 0.02
    assert one["finishedTimestamp"] <= started_at(two) and two["finishedTimestamp"] <= started_at(three)


def test_links_dag_runs_branches_in_parallel_and_joins(oos: Oos) -> None:
    links = [
        {"src": "a", "dst": "b"},
        {"src": "a", "dst": "c"},
        {"src": "b", "dst": "d"},
        {"src": "c", "dst": "d"},
    ]
    execution = oos.run(
        template(
            step("d"),
            shell("b", "# emulator: sleep 5"),
            shell("c", "# emulator: sleep 5"),
            step("a"),
            linear=False,
            links=links,
        )
    )
    assert execution["state"] == "SUCCESS"
    t = tasks_by_name(execution)
    assert (
        started_at(t["b"]) >= t["a"]["finishedTimestamp"]
        and started_at(t["c"]) >= t["a"]["finishedTimestamp"]
    )
    assert (
        started_at(t["c"]) < t["b"]["finishedTimestamp"] and started_at(t["b"]) < t["c"]["finishedTimestamp"]
    )
    assert started_at(t["d"]) >= max(t["b"]["finishedTimestamp"], t["c"]["finishedTimestamp"])


def test_retries_go_through_up_for_retry_then_succeed(oos: Oos) -> None:
    flaky = shell("flaky", "# emulator: fail-attempts 2", retries=2, retryInterval=10000)
    execution_id = oos.create(template(flaky))
    retrying = oos.wait(execution_id, {"RUNNING"})
    deadline = time.monotonic() + 10
    while tasks_by_name(retrying)["flaky"]["state"] != "UP_FOR_RETRY":
        assert time.monotonic() < deadline
        retrying = oos.get(execution_id)
    assert "exited with code 1" in tasks_by_name(retrying)["flaky"]["reason"]
    execution = oos.wait(execution_id)
    task = execution["tasks"][0]
    assert execution["state"] == "SUCCESS" and task["tries"] == 2 and "reason" not in task
    assert any("retry 2 of 2" in entry["msg"] for entry in task["log"])


def test_retries_exhausted_fail_the_execution_and_block_downstream(oos: Oos) -> None:
    execution = oos.run(
        template(shell("bad", "exit 3\n# emulator: exit 3", retries=1, retryInterval=0), step("after"))
    )
    bad, after = execution["tasks"]
    assert execution["state"] == "FAILED"
    assert bad["state"] == "FAILED" and bad["tries"] == 1 and "exited with code 3" in bad["reason"]
    assert bad["outputContext"]["exitCode"] == 3
    assert after["state"] == "UPSTREAM_FAILED" and "upstream" in after["reason"]
    assert any(entry["level"] == "ERROR" for entry in bad["log"])


def test_step_timeout_fails_the_task(oos: Oos) -> None:
    execution = oos.run(template(shell("slow", "# emulator: sleep 100", timeout=5000)))
    task = execution["tasks"][0]
    assert execution["state"] == "FAILED" and task["reason"] == "timed out after 5000 ms"
    assert task["finishedTimestamp"] - started_at(task) < 100000 * 0.02


def test_schedule_delay_holds_the_step_pending(oos: Oos) -> None:
    execution_id = oos.create(template(step("later", scheduleDelayMilli=10000)))
    early = oos.wait(execution_id, {"RUNNING"})
    assert early["tasks"][0]["state"] == "PENDING"
    execution = oos.wait(execution_id)
    task = execution["tasks"][0]
    assert (
        execution["state"] == "SUCCESS" and started_at(task) - execution["createdTimestamp"] >= 10000 * 0.02
    )


def test_manual_step_pauses_until_approved(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    execution_id = oos.create(template(step("prepare"), step("approve-me", manually=True), step("finish")))
    paused = oos.wait(execution_id, {"PAUSED"})
    assert [t["state"] for t in paused["tasks"]] == ["SUCCESS", "PENDING", "PENDING"]
    time.sleep(0.5)
    assert oos.get(execution_id)["state"] == "PAUSED"
    with pytest.raises(RuntimeError, match="approve"):
        oos_emulator.admin("POST", f"executions/{execution_id}/resume")
    with pytest.raises(RuntimeError, match="no manual step"):
        oos_emulator.admin("POST", f"executions/{execution_id}/approve", {"step": "finish"})
    assert (
        oos_emulator.admin("POST", f"executions/{execution_id}/approve", {"step": "approve-me"})["state"]
        == "RUNNING"
    )
    execution = oos.wait(execution_id)
    approved = tasks_by_name(execution)["approve-me"]
    assert execution["state"] == "SUCCESS"
    assert approved["finishedTimestamp"] - started_at(approved) < 400  # the pause is not added to its run


def test_pause_on_failure_pauses_then_resume_retries_and_cancel_ends(
    oos: Oos, oos_emulator: EmulatorHandle
) -> None:
    execution_id = oos.create(
        template(shell("fragile", "# emulator: exit 4", pauseOnFailure=True), step("next"))
    )
    paused = oos.wait(execution_id, {"PAUSED"})
    fragile = tasks_by_name(paused)["fragile"]
    assert fragile["state"] == "FAILED" and "code 4" in fragile["reason"]
    assert tasks_by_name(paused)["next"]["state"] == "PENDING"
    oos_emulator.admin("POST", f"executions/{execution_id}/resume")  # a person retries the step
    again = oos.wait(execution_id, {"PAUSED"})
    assert tasks_by_name(again)["fragile"]["tries"] == 1
    assert oos_emulator.admin("POST", f"executions/{execution_id}/cancel")["state"] == "CANCELED"
    final = oos.get(execution_id)
    assert final["state"] == "CANCELED" and tasks_by_name(final)["next"]["state"] == "SKIPPED"
    assert final["finishedTimestamp"] >= final["createdTimestamp"]


def test_admin_pause_freezes_time_and_resume_continues(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    execution_id = oos.create(template(shell("long", "# emulator: sleep 25"), step("short")))
    oos.wait(execution_id, {"RUNNING"})
    assert oos_emulator.admin("POST", f"executions/{execution_id}/pause")["state"] == "PAUSED"
    with pytest.raises(RuntimeError, match="is PAUSED: it cannot be paused"):
        oos_emulator.admin("POST", f"executions/{execution_id}/pause")
    time.sleep(25 * 0.02 + 0.1)  # longer than the step: paused time does not count
    assert oos.get(execution_id)["tasks"][0]["state"] == "RUNNING"
    assert oos_emulator.admin("POST", f"executions/{execution_id}/resume")["state"] == "RUNNING"
    assert oos.wait(execution_id)["state"] == "SUCCESS"
    with pytest.raises(RuntimeError, match="already SUCCESS"):
        oos_emulator.admin("POST", f"executions/{execution_id}/cancel")
    with pytest.raises(RuntimeError, match="HTTP 404"):
        oos_emulator.admin("POST", "executions/d-unknown/pause")


def test_cancel_a_running_execution(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    execution_id = oos.create(template(shell("long", "# emulator: sleep 50"), step("never")))
    oos.wait(execution_id, {"RUNNING"})
    oos_emulator.admin("POST", f"executions/{execution_id}/cancel")
    execution = oos.wait(execution_id)
    long, never = execution["tasks"]
    assert execution["state"] == "CANCELED"
    assert long["state"] == "FAILED" and "canceled" in long["reason"] and never["state"] == "SKIPPED"


def test_refs_resolve_from_properties_and_defaults(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    params = [
        {"name": "instanceId", "type": "string", "required": True},
        {"name": "greeting", "type": "string", "defaultValue": "hello"},
    ]
    body = template(
        step("stop", "BCE::BCC::StopInstance", properties={"instanceId": {"Ref": "instanceId"}}),
        shell("say", "unused"),
        properties=params,
    )
    body["operators"][1]["properties"] = {"content": {"Ref": "greeting"}}
    execution = oos.run(body, {"instanceId": "i-b"})
    stop, say = execution["tasks"]
    assert execution["state"] == "SUCCESS" and execution["properties"] == {"instanceId": "i-b"}
    assert stop["context"] == {"instanceId": "i-b"} and stop["initContext"] == {
        "instanceId": {"Ref": "instanceId"}
    }
    assert stop["outputContext"] == {"instances": [{"instanceId": "i-b"}]}
    assert say["context"] == {"greeting": "hello"}
    assert oos_emulator.instance_states() == {"i-a": "Running", "i-b": "Stopped"}
    assert "instanceId" in oos.error(400, "POST", "/v2/execution", body={"template": body})


def test_bcc_actions_act_on_the_fake_inventory(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    instances = {"instances": [{"instanceId": "i-a"}], "instanceIds": ["i-b"]}
    for action, expected in (("Stop", "Stopped"), ("Start", "Running"), ("Reboot", "Running")):
        execution = oos.run(
            template(step(action.lower(), f"BCE::BCC::{action}Instance", properties=instances))
        )
        assert execution["state"] == "SUCCESS", execution["tasks"][0].get("reason")
        assert oos_emulator.instance_states() == {"i-a": expected, "i-b": expected}
    assert {
        i["instanceId"]: i.get("reboots") for i in oos_emulator.admin("GET", "instances")["instances"]
    } == {
        "i-a": 1,
        "i-b": 1,
    }
    start_running = oos.run(template(step("s", "BCE::BCC::StartInstance", properties=instances)))
    assert "Instance.InvalidStatus" in start_running["tasks"][0]["reason"]
    oos.run(template(step("stop", "BCE::BCC::StopInstance", properties={"instanceIds": ["i-a"]})))
    stop_stopped = oos.run(
        template(step("stop", "BCE::BCC::StopInstance", properties={"instanceIds": ["i-a"]}))
    )
    assert stop_stopped["state"] == "FAILED" and "i-a is Stopped" in stop_stopped["tasks"][0]["reason"]
    unknown = oos.run(template(step("stop", "BCE::BCC::StopInstance", properties={"instanceIds": ["i-zz"]})))
    assert unknown["state"] == "FAILED" and "i-zz" in unknown["tasks"][0]["reason"]
    none_given = oos.run(template(step("stop", "BCE::BCC::StopInstance")))
    assert "no instance given" in none_given["tasks"][0]["reason"]


def test_shell_is_recorded_never_run_and_unknown_actions_fail(oos: Oos, tmp_path: Path) -> None:
    marker = tmp_path / "must-not-exist"
    script = f"touch {marker}\n# emulator: output version=1.2\n# emulator: output host=web-1"
    execution = oos.run(template(step("sh", properties={"content": script, "instanceIds": ["i-a"]})))
    task = execution["tasks"][0]
    assert execution["state"] == "SUCCESS" and not marker.exists()
    assert task["outputContext"]["exitCode"] == 0 and task["outputContext"]["version"] == "1.2"
    assert task["outputContext"]["host"] == "web-1" and "not run" in task["outputContext"]["stdout"]
    assert any(str(marker) in entry["msg"] for entry in task["log"])
    unknown = oos.run(template(step("x", "BCE::Magic::DoIt", properties={})))
    assert (
        unknown["state"] == "FAILED"
        and "unknown action type 'BCE::Magic::DoIt'" in unknown["tasks"][0]["reason"]
    )


@pytest.mark.parametrize(
    ("outcome", "final"), [("SUCCESS", "ROLLBACK_SUCCESS"), ("FAILED", "ROLLBACK_FAILED")]
)
def test_failed_step_can_roll_back(oos: Oos, outcome: str, final: str) -> None:
    script = f"# emulator: exit 1\n# emulator: sleep 25\n# emulator: rollback {outcome}"
    execution_id = oos.create(template(shell("deploy", script)))
    assert oos.wait(execution_id, {"ROLLBACK"} | FINAL)["state"] == "ROLLBACK"
    assert oos.wait(execution_id)["state"] == final


# --- authentication ----------------------------------------------------------------------------
def _raw(oos: Oos, method: str, url: str, headers: dict[str, str]) -> requests.Response:
    return oos.session.request(method, url, headers=headers, timeout=10)


def _exec_url(oos: Oos, execution_id: str = "d-doesnotexist") -> str:
    return f"{oos.url}{API}/v2/execution?id={execution_id}"


def _tampered(oos: Oos, change: str) -> tuple[str, str, dict[str, str]]:
    """Sign one request, then send a different one."""
    url = _exec_url(oos)
    headers = signed_headers(oos.credentials, "GET", url)
    if change == "method":
        return "DELETE", url, headers
    if change == "path":
        return "GET", url.replace("/v2/execution", "/v2/template"), headers
    if change == "query":
        return "GET", url + "x", headers
    if change == "signed-date-header":
        return "GET", url, {**headers, "x-bce-date": "2020-01-01T00:00:00Z"}
    if change == "host":
        return "GET", url.replace("127.0.0.1", "localhost"), headers
    raise AssertionError(change)


def _auth_case(oos: Oos, case: str) -> tuple[str, str, dict[str, str]]:
    url = _exec_url(oos)
    now = time.time()
    if case == "missing":
        return "GET", url, {}
    if case == "malformed":
        return "GET", url, {"Authorization": "Bearer abc"}
    if case == "bad-signature-format":
        headers = signed_headers(oos.credentials, "GET", url)
        return "GET", url, {**headers, "Authorization": headers["Authorization"][:-4]}
    if case == "unknown-ak":
        return (
            "GET",
            url,
            signed_headers(BceCredentials("nobody", oos.credentials.secret_access_key), "GET", url),
        )
    if case == "wrong-sk":
        return "GET", url, signed_headers(BceCredentials(oos.credentials.access_key_id, "wrong"), "GET", url)
    if case == "expired":
        return "GET", url, signed_headers(oos.credentials, "GET", url, timestamp=now - 3600, expiration=1800)
    if case == "future":
        return "GET", url, signed_headers(oos.credentials, "GET", url, timestamp=now + 16 * 60)
    return _tampered(oos, case)


AUTH_REJECTIONS = [
    ("missing", 403, "AccessDenied"),
    ("malformed", 400, "InvalidHTTPAuthHeader"),
    ("bad-signature-format", 400, "InvalidHTTPAuthHeader"),
    ("unknown-ak", 403, "InvalidAccessKeyId"),
    ("wrong-sk", 400, "SignatureDoesNotMatch"),
    ("expired", 400, "RequestExpired"),
    ("future", 400, "RequestExpired"),
    ("method", 400, "SignatureDoesNotMatch"),
    ("path", 400, "SignatureDoesNotMatch"),
    ("query", 400, "SignatureDoesNotMatch"),
    ("signed-date-header", 400, "SignatureDoesNotMatch"),
    ("host", 400, "SignatureDoesNotMatch"),
]


@pytest.mark.parametrize(("case", "status", "code"), AUTH_REJECTIONS)
def test_gateway_rejects_bad_signatures_with_the_bce_error_body(
    oos: Oos, case: str, status: int, code: str
) -> None:
    method, url, headers = _auth_case(oos, case)
    response = _raw(oos, method, url, headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "requestId"} and body["code"] == code and body["message"]
    assert response.headers["x-bce-request-id"] == body["requestId"]


def test_gateway_accepts_explicit_and_default_signed_headers_and_small_skew(oos: Oos) -> None:
    execution_id = oos.create(template(step("a")))
    url = _exec_url(oos, execution_id)
    explicit = signed_headers(oos.credentials, "GET", url)
    assert explicit["Authorization"].split("/")[4] == "host;x-bce-date"
    assert _raw(oos, "GET", url, explicit).status_code == 200
    skewed = signed_headers(oos.credentials, "GET", url, timestamp=time.time() + 5 * 60)
    assert _raw(oos, "GET", url, skewed).status_code == 200
    # The empty signed-headers form (what the official Python SDK sends) means the default set.
    from airflow_provider_oos.client.auth import format_timestamp, sign

    stamp = int(time.time())
    headers = {"host": url.split("/")[2], "x-bce-date": format_timestamp(stamp), "x-bce-request-id": "abc"}
    authorization = sign(
        oos.credentials.access_key_id,
        oos.credentials.secret_access_key,
        "GET",
        f"{API}/v2/execution",
        {"id": execution_id},
        headers,
        stamp,
    )
    default_form = authorization.replace("/host;x-bce-date;x-bce-request-id/", "//")
    assert default_form.split("/")[4] == ""
    response = _raw(oos, "GET", url, {**headers, "Authorization": default_form})
    assert response.status_code == 200 and response.json()["result"]["id"] == execution_id
    tampered = _raw(oos, "GET", url, {**headers, "x-bce-request-id": "other", "Authorization": default_form})
    assert tampered.json()["code"] == "SignatureDoesNotMatch"
    # The body is not signed (as on the real service): a signed POST with any body goes through.
    assert oos.call("POST", "/v2/template/check", body=template(step("z"))).status_code == 200


def test_every_answer_carries_a_request_id(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    responses = [
        oos.call("GET", "/v2/execution", {"id": "d-missing"}),
        oos.call("POST", "/v1/operator/list", body={}),
        requests.get(f"{oos.url}/emulator/stats", timeout=10),
    ]
    ids = [r.headers["x-bce-request-id"] for r in responses]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids) and len(set(ids)) == 3


def test_sts_token_must_be_sent_and_signed(oos_emulator_factory: Any) -> None:
    emulator = oos_emulator_factory(session_token="sts-token-123")
    with_token = Oos(emulator, BceCredentials(emulator.access_key, emulator.secret_key, "sts-token-123"))
    without = Oos(emulator)
    wrong = Oos(emulator, BceCredentials(emulator.access_key, emulator.secret_key, "forged"))
    assert with_token.ok("POST", "/v1/operator/list", body={})["totalCount"] == 4
    assert "x-bce-security-token" in without.call("POST", "/v1/operator/list", body={}).json()["message"]
    assert wrong.call("POST", "/v1/operator/list", body={}).json()["code"] == "InvalidSessionToken"
    # Sent but left out of an explicit signed-headers list: refused.
    url = f"{emulator.url}{API}/v2/execution?id=d-x"
    unsigned = signed_headers(without.credentials, "GET", url) | {"x-bce-security-token": "sts-token-123"}
    response = without.session.get(url, headers=unsigned, timeout=10)
    assert response.status_code == 403 and response.json()["code"] == "AccessDenied"
    assert "sts-token-123" not in emulator.output() and "sts-token-123" not in repr(emulator)
    assert not {"sts-token-123", emulator.secret_key} & set(emulator.command())  # not visible to `ps`


# --- the official SDK as an independent client --------------------------------------------------
def test_official_python_sdk_creates_and_reads_an_execution(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    from baidubce.auth.bce_credentials import BceCredentials as SdkCredentials
    from baidubce.bce_client_configuration import BceClientConfiguration
    from baidubce.services.oos.oos_client import OosClient
    from baidubce.services.oos.oos_model import TagModel

    config = BceClientConfiguration(
        credentials=SdkCredentials(oos_emulator.access_key, oos_emulator.secret_key),
        endpoint=oos_emulator.url.removeprefix("http://"),
        protocol=None,
    )
    client = OosClient(config)
    operators = [
        step("stop_bcc", "BCE::BCC::StopInstance", properties={"instances": [{"instanceId": "i-a"}]})
    ]
    template_id = client.create_template("sdk_template", operators).result.id
    assert client.get_template_detail("sdk_template").result.id == template_id
    assert client.get_template_list(1, 10).result.total_count == 1
    assert client.get_operator_list(1, 10).result.total_count == 4
    created = client.create_execution(
        {"name": "sdk_template", "ref": template_id, "linear": True}, tags=[TagModel("team", "ops")]
    )
    execution_id = created.result.id
    deadline = time.monotonic() + 15
    while (state := client.get_execution_detail(execution_id).result.state) != "SUCCESS":
        assert state in {"PENDING", "RUNNING"} and time.monotonic() < deadline
        time.sleep(0.02)
    assert oos_emulator.instance_states()["i-a"] == "Stopped"
    assert oos.get(execution_id)["tasks"][0]["state"] == "SUCCESS"
    assert oos.get(execution_id)["tags"] == [{"tagKey": "team", "tagValue": "ops"}]  # the SDK's TagModel


# --- admin API and fault injection ---------------------------------------------------------------
def test_admin_stats_executions_instances_and_reset(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    first = oos.create(template(step("a")))
    oos.create(template(step("b")))
    oos.get(first)
    stats = oos_emulator.admin("GET", "stats")
    assert stats["createExecutionCalls"] == 2 == oos_emulator.create_calls()
    assert (
        stats["requests"][f"POST {API}/v2/execution"] == 2
        and stats["requests"][f"GET {API}/v2/execution"] == 1
    )
    listed = oos_emulator.executions()
    assert listed[0]["id"] == first and {e["templateName"] for e in listed} == {"tpl"}
    seeded = oos_emulator.seed_instances(["i-c"], status="Stopped")["instances"]
    assert seeded[-1] == {"instanceId": "i-c", "status": "Stopped"}
    with pytest.raises(RuntimeError, match="HTTP 400"):
        oos_emulator.admin("POST", "instances", {"instanceIds": "i-a"})
    oos_emulator.reset()
    assert oos_emulator.executions() == [] and oos_emulator.create_calls() == 0
    assert oos_emulator.instance_states() == {}
    oos.error(404, "GET", "/v2/execution", {"id": first})


def test_fault_rates_are_honoured(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    execution_id = oos.create(template(step("a")))
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="GET", error500=0.3)
    statuses = [oos.call("GET", "/v2/execution", {"id": execution_id}).status_code for _ in range(400)]
    errors = statuses.count(500)
    assert statuses.count(200) + errors == 400
    assert 80 <= errors <= 160, errors  # 120 expected; sd 9.2, the band is > 4 sd wide
    failed = oos.call("GET", "/v2/execution", {"id": execution_id})
    while failed.status_code != 500:
        failed = oos.call("GET", "/v2/execution", {"id": execution_id})
    assert (
        failed.json()["code"] == "InternalError"
        and failed.headers["x-bce-request-id"] == failed.json()["requestId"]
    )
    # Only that method on that path: other calls and the admin API are untouched.
    assert all(oos.call("POST", "/v1/operator/list", body={}).status_code == 200 for _ in range(20))
    assert all(requests.get(f"{oos.url}/emulator/stats", timeout=5).status_code == 200 for _ in range(20))
    assert oos_emulator.admin("GET", "faults")["faults"][0]["error500"] == 0.3
    oos_emulator.clear_faults()
    assert all(oos.call("GET", "/v2/execution", {"id": execution_id}).status_code == 200 for _ in range(20))


@pytest.mark.parametrize(
    ("field", "status", "code"),
    [("error503", 503, "ServiceUnavailable"), ("error429", 429, "TooManyRequests")],
)
def test_throttling_faults_refuse_before_the_call_takes_effect(
    oos: Oos, oos_emulator: EmulatorHandle, field: str, status: int, code: str
) -> None:
    oos_emulator.set_faults(path=f"{API}/v2/execution", **{field: 1.0})
    response = oos.call("POST", "/v2/execution", body={"template": template(step("a"))})
    assert response.status_code == status and response.json()["code"] == code
    assert oos_emulator.create_calls() == 0 and oos_emulator.executions() == []


def test_500_and_drop_faults_lose_the_answer_after_the_call_took_effect(
    oos: Oos, oos_emulator: EmulatorHandle
) -> None:
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", error500=1.0)
    response = oos.call("POST", "/v2/execution", body={"template": template(step("a"))})
    assert response.status_code == 500
    assert oos_emulator.create_calls() == 1 and len(oos_emulator.executions()) == 1
    oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", drop=1.0)
    with pytest.raises(requests.ConnectionError):
        oos.call("POST", "/v2/execution", body={"template": template(step("a"))})
    assert oos_emulator.create_calls() == 2 and len(oos_emulator.executions()) == 2
    assert "Traceback" not in oos_emulator.output()


def test_latency_fault_delays_without_blocking_other_calls(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    oos_emulator.set_faults(path=f"{API}/v1/operator/list", latencyMs=400)
    started = time.monotonic()
    import threading

    slow: list[float] = []
    thread = threading.Thread(
        target=lambda: slow.append((oos.call("POST", "/v1/operator/list", body={}), time.monotonic())[1])
    )
    thread.start()
    fast = Oos(oos_emulator)
    time.sleep(0.05)
    assert fast.call("POST", "/v2/template/check", body=template(step("a"))).status_code == 200
    fast_done = time.monotonic()
    thread.join()
    assert slow[0] - started >= 0.4 and fast_done < slow[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "/emulator/stats", "error500": 0.5}, "OOS API path"),
        ({"path": f"{API}/v2/execution", "error500": 1.5}, "between 0 and 1"),
        ({"path": f"{API}/v2/execution", "error500": 0.6, "drop": 0.6}, "must not exceed 1"),
        ({"path": f"{API}/v2/execution", "teapot": 1}, "unknown fault field"),
    ],
)
def test_bad_fault_specs_are_refused(
    oos_emulator: EmulatorHandle, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        oos_emulator.admin("POST", "faults", spec)


# --- durability, CLI, plugin --------------------------------------------------------------------
def test_restart_on_the_same_db_file_resumes_running_executions(
    oos_emulator_factory: Any, tmp_path: Path
) -> None:
    db = tmp_path / "oos.db"
    emulator = oos_emulator_factory(db_path=db, time_scale=0.05, instances=["i-a"])
    oos = Oos(emulator)
    template_id = oos.ok("POST", "/v2/template", body=template(step("a"), name="kept"))["id"]
    body = template(
        shell("one", "# emulator: sleep 4"),
        shell("two", "# emulator: sleep 4"),
        step("stop", "BCE::BCC::StopInstance", properties={"instanceIds": ["i-a"]}),
    )
    execution_id = oos.create(body)
    oos.wait(execution_id, {"RUNNING"})
    emulator.kill()  # a crash: no clean shutdown
    emulator.restart()
    oos = Oos(emulator)
    resumed = oos.get(execution_id)
    assert resumed["state"] in {"RUNNING", "SUCCESS"}
    execution = oos.wait(execution_id)
    assert execution["state"] == "SUCCESS" and [t["state"] for t in execution["tasks"]] == ["SUCCESS"] * 3
    assert emulator.instance_states() == {"i-a": "Stopped"} and emulator.create_calls() == 1
    assert oos.ok("GET", "/v2/template", {"name": "kept"})["id"] == template_id
    assert emulator.stop() == 0  # SIGTERM: clean exit


def test_cli_picks_a_free_port_prints_the_ready_line_and_stops_on_sigint(oos_emulator_factory: Any) -> None:
    import signal
    import subprocess
    import sys

    emulator = oos_emulator_factory()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.url) and emulator.port > 0
    assert emulator.output().splitlines()[0] == f"OOS emulator listening on {emulator.url}"
    assert emulator.output().splitlines()[1] == (
        f"OOS emulator console (console_url): {emulator.url}/console/execution/{{execution_id}}"
    )
    with pytest.raises(RuntimeError, match="cannot bind"):
        oos_emulator_factory(port=emulator.port)  # taken: a clear error, not a hang
    assert emulator.stop(signal.SIGINT) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "oos_emulator", "--time-scale", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--time-scale must be > 0" in bad.stderr


def test_handle_connection_strings(oos_emulator: EmulatorHandle) -> None:
    # Connections pointed at the emulator link to its console page (issue 11).
    console = f"http://127.0.0.1:{oos_emulator.port}/console/execution/{{execution_id}}"
    assert oos_emulator.console_url == console
    assert oos_emulator.conn_uri == (
        f"baidu-oos://emulator-ak:emulator-sk@127.0.0.1:{oos_emulator.port}/?scheme=http"
        f"&console_url={quote(console, safe='')}"
    )
    conn = json.loads(oos_emulator.conn_json)
    assert conn == {
        "conn_type": "baidu_oos",
        "login": "emulator-ak",
        "password": "emulator-sk",
        "host": oos_emulator.url,
        "extra": {"console_url": console},
    }
    assert "emulator-sk" not in repr(oos_emulator)


def test_pytest_plugin_import_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, oos_emulator.pytest_plugin\n"
        "heavy = ('fastapi', 'uvicorn', 'starlette', 'requests', 'sqlite3')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_throughput_benchmark_reports_figures_and_the_emulator_is_cheap_per_request(
    oos_emulator: EmulatorHandle,
) -> None:
    from benchmarks.emulator_throughput import TARGET_REQUESTS_PER_SECOND, run

    figures = run(seconds=1.0, clients=4, emulator=oos_emulator)
    assert figures["requests"] > 50 and figures["errors"] == 0
    assert figures["p50_ms"] <= figures["p99_ms"]
    # Load-independent check of the >= 300/s target: the emulator's CPU per answer leaves room
    # for it on one core, whatever else this shared machine runs.
    assert figures["server_cpu_ms_per_request"] < 1000 / TARGET_REQUESTS_PER_SECOND
