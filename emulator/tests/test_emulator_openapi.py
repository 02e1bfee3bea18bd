"""The emulator's OpenAPI-era surface over real HTTP: both path styles, withLog, execution tags and
create options, list executions, task detail, task children and loop iterations.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from emulator_client import API, Oos, log_ms, shell, step, tasks_by_name, template
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import signed_headers

STYLES = [pytest.param(API, id="seed-style"), pytest.param("", id="openapi-style")]
TAGS = [{"tagKey": "airflow-dag", "tagValue": "nightly"}, {"tagKey": "team", "tagValue": "ops"}]


@pytest.fixture
def emulator(oos_emulator: EmulatorHandle) -> EmulatorHandle:
    oos_emulator.seed_instances(["i-a", "i-b", "i-c"])
    return oos_emulator


def client(emulator: EmulatorHandle, base_path: str = "") -> Oos:
    return Oos(emulator, base_path=base_path)


def loop_step(name: str, instances: list[str], **fields: Any) -> dict[str, Any]:
    return step(name, "BCE::BCC::StopInstance", loops=[{"instanceId": i} for i in instances], **fields)


def page(oos: Oos, path: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = oos.ok("POST", path, body={"pageNo": 1, "pageSize": 100, **body})
    return result


# --- both path styles -----------------------------------------------------------------------------
@pytest.mark.parametrize("base", STYLES)
def test_every_call_is_served_in_both_path_styles(emulator: EmulatorHandle, base: str) -> None:
    oos = client(emulator, base)
    locale = {"locale": "en-us"}  # every call takes it
    body = template(step("a"), loop_step("stop", ["i-a", "i-b"]), name=f"both{base.count('/')}")
    assert oos.ok("POST", "/v2/template/check", locale, body) == {"isValid": True, "reason": ""}
    template_id = oos.ok("POST", "/v2/template", locale, body)["id"]
    assert oos.ok("GET", "/v2/template", {"name": body["name"], **locale})["id"] == template_id
    assert oos.ok("GET", "/v2/template", {"id": template_id})["name"] == body["name"]
    assert oos.ok("PUT", "/v2/template", locale, {**body, "id": template_id, "description": "d"}) is None
    assert oos.ok("POST", "/v2/template/list", locale, {"pageNo": 1, "pageSize": 10})["totalCount"] == 1
    assert oos.ok("POST", "/v1/operator/list", locale, {"pageNo": 1, "pageSize": 10})["totalCount"] == 4
    assert "categories" in oos.ok("POST", "/v2/operator/list", locale, {"pageNo": 1, "pageSize": 10})
    created = {"template": {"ref": template_id, "name": body["name"]}, "tags": TAGS}
    execution_id = oos.ok("POST", "/v2/execution", locale, created)["id"]
    final = oos.wait(execution_id)
    assert final["state"] == "SUCCESS" and oos.get(execution_id)["id"] == execution_id
    listed = oos.ok("POST", "/v2/execution/list", locale, {"pageNo": 1, "pageSize": 10})
    assert [e["id"] for e in listed["executions"]] == [execution_id]
    loop_task = tasks_by_name(final)["stop"]
    task = oos.ok("GET", "/v2/task", {"dagId": execution_id, "taskId": loop_task["id"], **locale})
    assert task["id"] == loop_task["id"]
    children = oos.ok(
        "POST",
        "/v2/task/children/list",
        locale,
        {"executionId": execution_id, "taskId": loop_task["id"], "pageNo": 1, "pageSize": 10},
    )
    assert [c["loopIndex"] for c in children["children"]] == [0, 1]
    assert oos.ok("DELETE", "/v2/template", {"id": template_id, **locale}) is None
    # Counted under the path actually requested.
    requests_seen = emulator.admin("GET", "stats")["requests"]
    assert requests_seen[f"GET {base}/v2/execution"] >= 2 and requests_seen[f"POST {base}/v2/execution"] == 1


@pytest.mark.parametrize(("signed", "sent"), [(API, ""), ("", API)])
def test_the_signature_covers_the_path_actually_requested(
    emulator: EmulatorHandle, signed: str, sent: str
) -> None:
    oos = client(emulator)
    signed_url = f"{emulator.url}{signed}/v2/execution?id=d-x"
    headers = signed_headers(oos.credentials, "GET", signed_url)
    good = requests.get(signed_url, headers=headers, timeout=10)
    assert good.status_code == 404 and good.json()["success"] is False  # signature fine, no such execution
    moved = requests.get(f"{emulator.url}{sent}/v2/execution?id=d-x", headers=headers, timeout=10)
    assert moved.status_code == 400 and moved.json()["code"] == "SignatureDoesNotMatch"


def test_paths_outside_both_styles_are_not_oos_calls(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    assert "Not Found" in oos.error(404, "POST", "/v9/nothing", body={})
    response = requests.post(f"{emulator.url}/api/logic/oos/v2/execution", json={}, timeout=10)
    assert response.status_code == 403 and response.json()["code"] == "AccessDenied"  # unsigned
    response = requests.post(f"{emulator.url}/v2/execution", json={}, timeout=10)
    assert response.status_code == 403 and response.json()["code"] == "AccessDenied"


# --- withLog, tags, create options -----------------------------------------------------------------
@pytest.mark.parametrize("base", STYLES)
def test_logs_only_with_with_log(emulator: EmulatorHandle, base: str) -> None:
    oos = client(emulator, base)
    execution_id = oos.create(template(shell("say", "echo hi"), loop_step("stop", ["i-a"])))
    oos.wait(execution_id)

    def tasks(execution: dict[str, Any]) -> list[dict[str, Any]]:
        return [*execution["tasks"], *(c for t in execution["tasks"] for c in t["children"])]

    for query in ({}, {"withLog": "false"}, {"withLog": "FALSE"}, {"withLog": ""}):
        plain = oos.ok("GET", "/v2/execution", {"id": execution_id, **query})
        assert len(tasks(plain)) == 3 and all("log" not in task for task in tasks(plain)), query
    for query in ({"withLog": "true"}, {"withLog": "True", "locale": "zh-cn"}):
        logged = oos.ok("GET", "/v2/execution", {"id": execution_id, **query})
        assert all(task["log"] for task in tasks(logged)), query
        for entry in (e for task in tasks(logged) for e in task["log"]):
            assert set(entry) == {"timestamp", "level", "msg", "tags"}
            assert isinstance(entry["timestamp"], str) and log_ms(entry) > 0
    assert "withLog must be true or false" in oos.error(
        400, "GET", "/v2/execution", {"id": execution_id, "withLog": "yes"}
    )


def test_execution_tags_parallelism_and_manually_are_stored_and_answered(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    body = {"template": template(step("a")), "tags": TAGS, "parallelism": 3, "manually": True}
    execution_id = oos.ok("POST", "/v2/execution", body=body)["id"]
    execution = oos.get(execution_id)
    assert execution["tags"] == TAGS and execution["parallelism"] == 3 and execution["manually"] is True
    assert execution["template"]["tags"] == []  # template tags stay key/value, apart from these
    plain = oos.get(oos.create(template(step("b"))))
    assert plain["tags"] == [] and "parallelism" not in plain and "manually" not in plain
    for bad, message in (
        ({"tags": [{"key": "team", "value": "ops"}]}, 'tags[0]: tags must be a list of {"tagKey"'),
        ({"tags": {"team": "ops"}}, '{"tagKey": …, "tagValue": …}'),
        ({"tags": [{"tagKey": "", "tagValue": "x"}]}, "tags[0]"),
        ({"tags": [{"tagKey": "a", "tagValue": 1}]}, "tags[0]"),
        ({"parallelism": -1}, "parallelism must be a non-negative integer"),
        ({"parallelism": True}, "parallelism must be a non-negative integer"),
        ({"manually": "yes"}, "manually must be true or false"),
    ):
        assert message in oos.error(
            400, "POST", "/v2/execution", body={"template": template(step("c")), **bad}
        )
    assert len(emulator.executions()) == 2  # refused creates made nothing


# --- list executions ---------------------------------------------------------------------------------
def test_list_executions_filters_sorts_and_pages(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    failing = template(
        step("ghost", "BCE::BCC::StopInstance", properties={"instanceIds": ["i-zz"]}), name="bad"
    )
    ids = []
    for index in range(5):
        body = template(shell("s", f"# emulator: sleep {index + 1}"), name="good")
        ids.append(oos.ok("POST", "/v2/execution", body={"template": body, "tags": TAGS})["id"])
        time.sleep(0.01)  # distinct start times
    bad_id = oos.create(failing)
    for execution_id in [*ids, bad_id]:
        oos.wait(execution_id)
    running_id = oos.create(template(shell("long", "# emulator: sleep 500"), name="long"))

    everything = page(oos, "/v2/execution/list")
    assert (
        everything["totalCount"] == 7
        and everything["orderBy"] == "startTime"
        and everything["order"] == "desc"
    )
    assert [e["id"] for e in everything["executions"]] == [running_id, bad_id, *reversed(ids)]
    first = everything["executions"][-1]
    assert first["tags"] == TAGS and all("log" not in t for t in first["tasks"])
    assert [e["id"] for e in page(oos, "/v2/execution/list", ascending=True)["executions"]][:5] == ids

    by_end = page(oos, "/v2/execution/list", sort="endTime", ascending=True)["executions"]
    finished = [e["finishedTimestamp"] for e in by_end if "finishedTimestamp" in e]
    assert by_end[-1]["id"] == running_id and finished == sorted(finished) and len(finished) == 6
    assert page(oos, "/v2/execution/list", sort="endTime")["executions"][0]["id"] == running_id

    assert [e["id"] for e in page(oos, "/v2/execution/list", template={"name": "bad"})["executions"]] == [
        bad_id
    ]
    assert page(oos, "/v2/execution/list", template={"name": "good"})["totalCount"] == 5
    assert [e["id"] for e in page(oos, "/v2/execution/list", state="FAILED")["executions"]] == [bad_id]
    assert [e["id"] for e in page(oos, "/v2/execution/list", state="RUNNING")["executions"]] == [running_id]
    assert page(oos, "/v2/execution/list", state="SUCCESS", template={"name": "good"})["totalCount"] == 5
    assert page(oos, "/v2/execution/list", trigger="MANUAL")["totalCount"] == 7
    assert page(oos, "/v2/execution/list", trigger="CRON")["totalCount"] == 0
    assert page(oos, "/v2/execution/list", cronExecutionName="nightly")["totalCount"] == 0
    assert page(oos, "/v2/execution/list", eventExecutionName="alarm")["totalCount"] == 0

    created = {e["id"]: e["createdTimestamp"] for e in everything["executions"]}
    window = page(oos, "/v2/execution/list", startTime=created[ids[1]], endTime=created[ids[3]])
    assert {e["id"] for e in window["executions"]} == set(ids[1:4])
    assert page(oos, "/v2/execution/list", endTime=created[ids[0]] - 1)["totalCount"] == 0
    # startTime defaults to 7 days ago (the metadata): older windows find nothing.
    week_ago = created[ids[0]] - 8 * 24 * 3600 * 1000
    assert page(oos, "/v2/execution/list", startTime=week_ago, endTime=week_ago + 1000)["totalCount"] == 0

    seen: list[str] = []
    for page_no in (1, 2, 3):
        got = oos.ok("POST", "/v2/execution/list", body={"pageNo": page_no, "pageSize": 3})
        assert got["pageNo"] == page_no and got["pageSize"] == 3 and got["totalCount"] == 7
        seen += [e["id"] for e in got["executions"]]
    assert seen == [e["id"] for e in everything["executions"]]
    assert oos.ok("POST", "/v2/execution/list", body={"pageNo": 4, "pageSize": 3})["executions"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "pageNo and pageSize required"),
        ({"pageSize": 10}, "pageNo required"),
        ({"pageNo": 1}, "pageSize required"),
        ({"pageNo": 1, "pageSize": 101}, "pageSize must be an integer from 1 to 100"),
        ({"pageNo": 0, "pageSize": 10}, "pageNo must be an integer >= 1"),
        ({"pageNo": 1, "pageSize": 10, "sort": "name"}, "sort must be one of ['startTime', 'endTime']"),
        ({"pageNo": 1, "pageSize": 10, "ascending": "yes"}, "ascending must be true or false"),
        ({"pageNo": 1, "pageSize": 10, "state": "DONE"}, "state must be one of"),
        ({"pageNo": 1, "pageSize": 10, "template": "good"}, "template (the filter {name}) must be"),
        ({"pageNo": 1, "pageSize": 10, "startTime": "today"}, "startTime must be epoch milliseconds"),
        ({"pageNo": 1, "pageSize": 10, "trigger": 1}, "trigger must be a string"),
    ],
)
def test_list_executions_refuses_bad_requests_with_the_field_named(
    emulator: EmulatorHandle, body: dict[str, Any], message: str
) -> None:
    assert message in client(emulator).error(400, "POST", "/v2/execution/list", body=body)


# --- task detail, children, loops --------------------------------------------------------------------
def test_loop_iterations_are_children_with_loop_index_and_their_instance(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    execution = oos.run(template(loop_step("stop", ["i-a", "i-b", "i-c"]), step("after")))
    assert execution["state"] == "SUCCESS", execution
    stop = tasks_by_name(execution)["stop"]
    children = stop["children"]
    assert [c["loopIndex"] for c in children] == [0, 1, 2] and all(c["state"] == "SUCCESS" for c in children)
    assert [c["context"] for c in children] == [{"instanceId": i} for i in ("i-a", "i-b", "i-c")]
    assert [c["initContext"]["instanceId"] for c in children] == ["i-a", "i-b", "i-c"]
    assert len({c["id"] for c in children} | {stop["id"]}) == 4
    assert stop["outputContext"] == {"instances": [{"instanceId": i} for i in ("i-a", "i-b", "i-c")]}
    assert "loopIndex" not in stop and emulator.instance_states() == dict.fromkeys(
        ["i-a", "i-b", "i-c"], "Stopped"
    )

    detail = oos.ok("GET", "/v2/task", {"dagId": execution["id"], "taskId": stop["id"]})
    assert detail == {k: v for k, v in stop.items() if k != "log"} | {
        "children": [{k: v for k, v in c.items() if k != "log"} for c in children]
    }
    alone = oos.ok(
        "GET", "/v2/task", {"dagId": execution["id"], "taskId": stop["id"], "ignoreChildren": "true"}
    )
    assert "children" not in alone and alone["id"] == stop["id"] and alone["state"] == "SUCCESS"
    child = oos.ok("GET", "/v2/task", {"dagId": execution["id"], "taskId": children[1]["id"]})
    assert child["loopIndex"] == 1 and "log" not in child
    assert "not found" in oos.error(404, "GET", "/v2/task", {"dagId": execution["id"], "taskId": "t-none"})
    assert "not found" in oos.error(404, "GET", "/v2/task", {"dagId": "d-none", "taskId": stop["id"]})
    assert "dagId" in oos.error(400, "GET", "/v2/task", {"taskId": stop["id"]})
    assert "ignoreChildren" in oos.error(
        400, "GET", "/v2/task", {"dagId": execution["id"], "taskId": stop["id"], "ignoreChildren": "1"}
    )

    listing = {"executionId": execution["id"], "taskId": stop["id"], "pageNo": 1, "pageSize": 2}
    first = oos.ok("POST", "/v2/task/children/list", body=listing)
    assert set(first) == {"children", "total", "orderBy", "order", "pageNo", "pageSize"}
    assert [c["loopIndex"] for c in first["children"]] == [0, 1] and first["total"] == 3
    second = oos.ok("POST", "/v2/task/children/list", body={**listing, "pageNo": 2})
    assert [c["loopIndex"] for c in second["children"]] == [2] and "log" not in second["children"][0]
    without_execution = {k: v for k, v in listing.items() if k != "executionId"}
    assert oos.ok("POST", "/v2/task/children/list", body=without_execution)["total"] == 3
    assert oos.ok("POST", "/v2/task/children/list", body={**listing, "states": ["FAILED"]})["total"] == 0
    after = tasks_by_name(execution)["after"]
    assert oos.ok("POST", "/v2/task/children/list", body={**listing, "taskId": after["id"]})["total"] == 0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"executionId": "d-x", "taskId": "t-x", "pageNo": 1}, 400, "pageSize required"),
        ({"executionId": "d-x", "pageNo": 1, "pageSize": 10}, 400, "taskId"),
        ({"taskId": "t-x", "pageNo": 1, "pageSize": 0}, 400, "pageSize must be"),
        ({"taskId": "t-x", "pageNo": 1, "pageSize": 10, "states": "FAILED"}, 400, "states must be a list"),
        (
            {"executionId": "d-x", "taskId": "t-x", "pageNo": 1, "pageSize": 10},
            404,
            "execution d-x not found",
        ),
        ({"taskId": "t-x", "pageNo": 1, "pageSize": 10}, 404, "task t-x not found"),
    ],
)
def test_task_children_refuses_bad_requests(
    emulator: EmulatorHandle, body: dict[str, Any], status: int, message: str
) -> None:
    assert message in client(emulator).error(status, "POST", "/v2/task/children/list", body=body)


def test_a_failing_iteration_fails_its_step_with_reason_and_error_code(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    execution = oos.run(template(loop_step("stop", ["i-a", "i-ghost", "i-b"]), step("after")))
    stop, after = execution["tasks"]
    assert execution["state"] == "FAILED" and after["state"] == "UPSTREAM_FAILED"
    assert [c["state"] for c in stop["children"]] == ["SUCCESS", "FAILED", "SUCCESS"]
    failed = stop["children"][1]
    assert failed["errorCode"] == "Instance.NotFound" and "i-ghost" in failed["reason"]
    assert stop["state"] == "FAILED" and stop["errorCode"] == "Instance.NotFound"
    assert stop["reason"].startswith("loop iteration 1 on i-ghost failed: ") and "1 of 3" in stop["reason"]
    assert execution["errorCode"] == "Instance.NotFound" and "'stop'" in execution["reason"]
    assert any(entry["level"] == "ERROR" and "loop iteration 1" in entry["msg"] for entry in stop["log"])
    listing = {"executionId": execution["id"], "taskId": stop["id"], "pageNo": 1, "pageSize": 10}
    only_failed = oos.ok("POST", "/v2/task/children/list", body={**listing, "states": ["FAILED"]})
    assert [c["loopIndex"] for c in only_failed["children"]] == [1] and only_failed["total"] == 1


def test_allowed_failures_and_parallelism_control_iterations(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    tolerant = loop_step("stop", ["i-a", "i-ghost"], allowedFailureControl={"count": 1})
    execution = oos.run(template(tolerant))
    assert execution["state"] == "SUCCESS" and [c["state"] for c in execution["tasks"][0]["children"]] == [
        "SUCCESS",
        "FAILED",
    ]
    scripts = [{"content": f"# emulator: sleep 5\n# emulator: output n={i}"} for i in range(3)]
    one_at_a_time = step("sh", loops=scripts, parallelismControl={"count": 1}, properties={})
    children = oos.run(template(one_at_a_time, name="serial"))["tasks"][0]["children"]
    starts = [log_ms(c["log"][0]) for c in children]
    assert all(starts[i + 1] >= children[i]["finishedTimestamp"] for i in range(2)), (starts, children)
    assert [c["outputContext"]["n"] for c in children] == ["0", "1", "2"]
    together = oos.run(template(step("sh", loops=scripts, properties={}), name="parallel"))["tasks"][0]
    starts = [log_ms(c["log"][0]) for c in together["children"]]
    assert max(starts) < min(c["finishedTimestamp"] for c in together["children"])  # no limit by default


def test_a_retried_iteration_and_pause_on_failure_rerun_only_failed_iterations(
    emulator: EmulatorHandle,
) -> None:
    oos = client(emulator)
    flaky = [{"content": "# emulator: fail-attempts 1"}, {"content": "true"}]
    retried = oos.run(template(step("sh", loops=flaky, retries=1, retryInterval=0, properties={})))
    assert retried["state"] == "SUCCESS" and [c["tries"] for c in retried["tasks"][0]["children"]] == [1, 0]

    execution_id = oos.create(template(loop_step("stop", ["i-a", "i-b"], pauseOnFailure=True), name="paused"))
    emulator.seed_instances(["i-b"], status="Stopped")  # the second iteration fails: already stopped
    paused = oos.wait(execution_id, {"PAUSED"})
    assert [c["state"] for c in paused["tasks"][0]["children"]] == ["SUCCESS", "FAILED"]
    emulator.seed_instances(["i-b"], status="Running")  # a person fixes it, then resumes
    emulator.admin("POST", f"executions/{execution_id}/resume")
    final = oos.wait(execution_id)
    children = final["tasks"][0]["children"]
    assert final["state"] == "SUCCESS" and [c["state"] for c in children] == ["SUCCESS", "SUCCESS"]
    assert [c["tries"] for c in children] == [0, 1]  # the good iteration did not run again


def test_cancel_stops_iterations(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    scripts = [{"content": "# emulator: sleep 100"}] * 3
    execution_id = oos.create(
        template(step("sh", loops=scripts, parallelismControl={"count": 1}, properties={}))
    )
    oos.wait(execution_id, {"RUNNING"})
    deadline = time.monotonic() + 10
    while not oos.get(execution_id)["tasks"][0]["children"]:
        assert time.monotonic() < deadline
    emulator.admin("POST", f"executions/{execution_id}/cancel")
    final = oos.get(execution_id)
    task = final["tasks"][0]
    assert final["state"] == "CANCELED" and task["state"] == "FAILED"
    assert [c["state"] for c in task["children"]] == ["FAILED", "SKIPPED", "SKIPPED"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"loops": "i-a"}, "loops must be a list of objects"),
        ({"loops": ["i-a"]}, "loops must be a list of objects"),
        ({"parallelismControl": {"ratio": 1.5}}, "parallelismControl.ratio must be a number from 0 to 1"),
        ({"allowedFailureCount": -1}, "allowedFailureCount must be a non-negative integer"),
        ({"parallelismControl": 2}, "parallelismControl must be an object"),
    ],
)
def test_loop_fields_are_checked(emulator: EmulatorHandle, fields: dict[str, Any], message: str) -> None:
    oos = client(emulator)
    body = template(step("stop", "BCE::BCC::StopInstance", **fields))
    assert message in oos.ok("POST", "/v2/template/check", body=body)["reason"]
    assert message in oos.error(400, "POST", "/v2/execution", body={"template": body})


def test_loop_entries_in_the_loop_model_shape_and_refs(emulator: EmulatorHandle) -> None:
    oos = client(emulator)
    loops = [{"initContext": {"instanceId": {"Ref": "first"}}}, {"initContext": {"instanceId": "i-b"}}]
    body = template(
        step("stop", "BCE::BCC::StopInstance", loops=loops),
        properties=[{"name": "first", "type": "string", "required": True}],
    )
    execution = oos.run(body, {"first": "i-a"})
    children = execution["tasks"][0]["children"]
    assert execution["state"] == "SUCCESS" and [c["context"] for c in children] == [
        {"first": "i-a", "instanceId": "i-a"},
        {"instanceId": "i-b"},
    ]
    assert children[0]["initContext"] == {"instanceId": {"Ref": "first"}}  # as written, like the seed
