"""The emulator held to the published operations (oos_operations.json), not to our client.

A raw signed client (no provider hook) sends valid requests for every published operation in
every style it is published in, and every answer must be a success envelope whose `result` has
the published fields with the published types, only published fields, and the fields the seed
example always shows. Then the details: withLog, both tag shapes, timestamps, page limits,
required fields, unpublished calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import sign
from tests.spec import conformance

INSTANCES = ["i-spec1", "i-spec2", "i-spec3"]
PUBLISHED = [(op.name, style) for op in conformance.operations() for style in op.styles]
STEP_DEFAULTS = {"retries": 0, "retryInterval": 300000, "timeout": 21600000}


class RawClient:
    """Signed HTTP calls straight to the emulator: method, full path, query, JSON body."""

    def __init__(self, handle: EmulatorHandle) -> None:
        self.handle = handle
        self.session = requests.Session()

    def call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        query = query or {}
        host = self.handle.url.split("://", 1)[1]
        now = int(time.time())
        headers = {"host": host, "x-bce-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        headers["authorization"] = sign(
            self.handle.access_key, self.handle.secret_key, method, path, query, headers, now,
            headers_to_sign=("host", "x-bce-date"),
        )  # fmt: skip
        if body is not None:
            headers["content-type"] = "application/json;charset=utf-8"
        response = self.session.request(
            method, self.handle.url + path, params=query, json=body, headers=headers, timeout=30
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def op(self, name: str, style: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
        """Call a published operation in a style; return its `result` after checking the envelope."""
        op = conformance.operation(name)
        status, answer = self.call(op.method, op.full_paths()[style], query, body)
        assert status == 200, f"{op} in the {style} style: HTTP {status} {answer!r:.300}"
        assert conformance.check_envelope(answer) == [], answer
        assert answer["success"] is True, f"{op} in the {style} style: {answer!r:.300}"
        return answer.get("result")


@pytest.fixture
def client(oos_emulator: EmulatorHandle) -> Iterator[RawClient]:
    oos_emulator.seed_instances(INSTANCES)
    raw = RawClient(oos_emulator)
    yield raw
    raw.session.close()


def shell_step(name: str, *lines: str) -> dict[str, Any]:
    content = "\n".join(["echo start", *lines])
    return {
        "name": name,
        "operator": "BCE::Agent::ExecuteShell",
        "properties": {"content": content},
        **STEP_DEFAULTS,
    }


def template(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "linear": True, "tags": [{"key": "team", "value": "ops"}], "operators": list(steps)}


LOOP_STEP = {
    "name": "stop",
    "operator": "BCE::BCC::StopInstance",
    "loops": [{"instanceId": i} for i in INSTANCES],
    "properties": {},
    **STEP_DEFAULTS,
}


def start(client: RawClient, style: str, *steps: dict[str, Any], tags: Any = None) -> str:
    body: dict[str, Any] = {"template": template(f"run_{style}", *(steps or (shell_step("work"),)))}
    body["properties"] = {}
    body["tags"] = tags if tags is not None else [{"tagKey": "airflow-dag", "tagValue": "spec"}]
    return str(client.op("create_execution", style, body=body)["id"])


def wait_final(client: RawClient, style: str, execution_id: str, limit: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = client.op("get_execution", style, {"id": execution_id})
        if result["state"] in conformance.FINAL_EXECUTION_STATES:
            return dict(result)
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} not final after {limit} s")


def valid_call(client: RawClient, name: str, style: str) -> Any:
    """A valid request for each published operation (with whatever it needs created first)."""
    tpl = template(f"tpl_{style}", shell_step("work"))
    if name == "create_template":
        return client.op(name, style, body=tpl)
    if name == "check_template":
        return client.op(name, style, body=tpl)
    if name in ("update_template", "delete_template", "get_template"):
        template_id = client.op("create_template", style, body=tpl)["id"]
        if name == "update_template":
            return client.op(name, style, body={**tpl, "id": template_id, "description": "changed"})
        if name == "delete_template":
            return client.op(name, style, {"id": template_id})
        return client.op(name, style, {"name": tpl["name"], "type": "INDIVIDUAL"})
    if name == "list_templates":
        client.op("create_template", style, body=tpl)
        return client.op(name, style, body={"pageNo": 1, "pageSize": 10, "name": tpl["name"]})
    if name.startswith("list_operators"):
        return client.op(name, style, body={"pageNo": 1, "pageSize": 100})
    if name == "create_execution":
        return {"id": start(client, style)}
    execution_id = start(client, style, LOOP_STEP)
    final = wait_final(client, style, execution_id)
    if name == "get_execution":
        return final
    if name == "list_executions":
        return client.op(
            name, style, body={"pageNo": 1, "pageSize": 100, "template": {"name": f"run_{style}"}}
        )
    task_id = final["tasks"][0]["id"]
    if name == "get_task":
        return client.op(name, style, {"dagId": execution_id, "taskId": task_id})
    body = {"executionId": execution_id, "taskId": task_id, "pageNo": 1, "pageSize": 100}
    return client.op(name, style, body=body)


@pytest.mark.parametrize(("name", "style"), PUBLISHED, ids=[f"{n}-{s}" for n, s in PUBLISHED])
def test_every_published_route_answers_with_the_published_fields(
    client: RawClient, name: str, style: str
) -> None:
    result = valid_call(client, name, style)
    assert conformance.check_result(name, result, strict=True) == []


def test_published_results_are_not_empty_where_data_exists(client: RawClient) -> None:
    """The list calls find what was made; the children page lists the loop iterations."""
    for style in ("seed", "openapi"):
        templates = valid_call(client, "list_templates", style)["templates"]
        assert [t["name"] for t in templates] == [f"tpl_{style}"]
    page = valid_call(client, "list_executions", "openapi")
    assert page["executions"] and all(e["tags"] for e in page["executions"])
    children = valid_call(client, "list_task_children", "openapi")
    assert [c["loopIndex"] for c in children["children"]] == [0, 1, 2]
    operators = valid_call(client, "list_operators_v2", "openapi")
    assert operators["operators"] and isinstance(operators["categories"], list)


@pytest.mark.parametrize("style", ["seed", "openapi"])
def test_log_only_with_with_log(client: RawClient, style: str) -> None:
    execution_id = start(client, style, LOOP_STEP)
    wait_final(client, style, execution_id)
    plain = client.op("get_execution", style, {"id": execution_id})
    explicit_no = client.op("get_execution", style, {"id": execution_id, "withLog": "false"})
    logged = client.op("get_execution", style, {"id": execution_id, "withLog": "true"})
    assert conformance.log_problems(plain, with_log=False) == []
    assert conformance.log_problems(explicit_no, with_log=False) == []
    assert conformance.log_problems(logged, with_log=True) == []
    assert any(task["log"] for _where, task in conformance.tasks_of(logged))
    assert conformance.check_result("get_execution", logged, strict=True) == []  # string timestamps etc.


@pytest.mark.parametrize("style", ["seed", "openapi"])
def test_tags_keep_their_two_shapes(client: RawClient, style: str) -> None:
    tags = [{"tagKey": "airflow-dag", "tagValue": "spec"}, {"tagKey": "team", "tagValue": "ops"}]
    execution_id = start(client, style, shell_step("work"), tags=tags)
    result = client.op("get_execution", style, {"id": execution_id})
    assert result["tags"] == tags
    assert result["template"]["tags"] == [{"key": "team", "value": "ops"}]
    template_id = client.op("create_template", style, body=template(f"tagged_{style}", shell_step("w")))["id"]
    stored = client.op("get_template", style, {"id": template_id})
    assert stored["tags"] == [{"key": "team", "value": "ops"}]


def test_timestamps_are_epoch_milliseconds(client: RawClient) -> None:
    before = int(time.time() * 1000) - 5_000
    execution_id = start(client, "openapi", shell_step("work"))
    final = wait_final(client, "openapi", execution_id)
    after = int(time.time() * 1000) + 5_000
    for where, obj in [("result", final), *conformance.tasks_of(final)]:
        for name in ("createdTimestamp", "updatedTimestamp", "finishedTimestamp"):
            value = obj.get(name)
            assert isinstance(value, int) and before <= value <= after, f"{where}.{name} = {value!r}"
        assert obj["createdTimestamp"] <= obj["updatedTimestamp"]


@pytest.mark.parametrize("style", ["seed", "openapi"])
def test_operator_defaults_follow_the_metadata(client: RawClient, style: str) -> None:
    bare = {"name": "work", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "echo hi"}}
    body = {"template": {"name": "defaults", "linear": True, "operators": [bare]}, "properties": {}}
    execution_id = client.op("create_execution", style, body=body)["id"]
    result = client.op("get_execution", style, {"id": execution_id})
    defaults = conformance.spec()["models"]["TemplateOperator"]["defaults"]
    step, task_step = result["template"]["operators"][0], result["tasks"][0]["operator"]
    for name in ("retryInterval", "timeout"):
        assert task_step[name] == defaults[name], task_step  # what the run uses, shown as the seed shows it
        assert step.get(name, defaults[name]) == defaults[name], step


@pytest.mark.parametrize(
    "name", ["list_executions", "list_templates", "list_task_children", "list_operators_v2"]
)
def test_page_size_above_the_limit_is_never_served(client: RawClient, name: str) -> None:
    op = conformance.operation(name)
    status, answer = client.call(op.method, op.full_paths()["openapi"], body={"pageNo": 1, "pageSize": 101})
    if status == 200 and isinstance(answer, dict) and answer.get("success"):
        result = answer["result"]
        items = next(v for k, v in result.items() if isinstance(v, list) and k != "categories")
        assert result.get("pageSize", 0) <= 100 and len(items) <= 100
    else:
        assert status in (200, 400) and "pageSize" in str(answer)


@pytest.mark.parametrize(
    ("name", "query", "body", "missing"),
    [
        ("get_execution", {}, None, "id"),
        ("get_task", {"taskId": "t-1"}, None, "dagId"),
        ("list_executions", {}, {"pageSize": 10}, "pageNo"),
        ("list_task_children", {}, {"pageNo": 1, "executionId": "d-1", "taskId": "t-1"}, "pageSize"),
        ("create_execution", {}, {"properties": {}}, "template"),
    ],
)
def test_a_missing_required_field_is_named(
    client: RawClient, name: str, query: dict[str, str], body: Any, missing: str
) -> None:
    op = conformance.operation(name)
    status, answer = client.call(op.method, op.full_paths()["openapi"], query, body)
    assert not (isinstance(answer, dict) and answer.get("success") is True), answer
    assert status in (200, 400) and missing in str(answer)


@pytest.mark.parametrize("style", ["seed", "openapi"])
@pytest.mark.parametrize(("method", "path"), [("POST", "/v2/execution/cancel"), ("PUT", "/v2/execution")])
def test_unpublished_calls_do_not_exist(client: RawClient, style: str, method: str, path: str) -> None:
    base = conformance.spec()["base_paths"][style]
    status, _answer = client.call(method, base + path, body={"id": "d-1"})
    assert status in (404, 405)
