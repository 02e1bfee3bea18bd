"""The checker and the data file themselves: the conformance tests can only fail if these catch faults."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.spec import conformance, shapes

SEED = "/api/logic/oos"
TYPE_NAME = re.compile(r"^(?:list<(.+)>|(.+))$")
SCALARS = {"string", "integer", "number", "boolean", "any", "map", "list", "bool_text"}
# The OpenAPI metadata's operation names (bce-openapi-meta schema/oos/*.json), the source of the file.
METADATA_OPERATIONS = {
    "CheckTemplateV2", "CreateExecutionV2", "CreateTemplateV2", "DeleteTemplateV2", "GetExecutionDetailV2",
    "GetExecutionListV2", "GetOperatorListV2", "GetTaskChildrenListV2", "GetTaskDetailV2",
    "GetTemplateDetailV2", "GetTemplateListV2", "UpdateTemplateV2",
}  # fmt: skip


def _types(kind: str) -> set[str]:
    match = TYPE_NAME.match(kind)
    assert match
    return {match.group(1) or match.group(2)}


def test_data_file_is_consistent() -> None:
    data = conformance.spec()
    models = data["models"]
    referenced: set[str] = set()
    for model in models.values():
        for kind in model["fields"].values():
            referenced |= _types(kind)
        for listed in ("required", "seed_fields", "final_fields", "response_only", "request_required"):
            assert set(model.get(listed, ())) <= set(model["fields"]), (listed, model)
    for op in conformance.operations():
        body = op.raw.get("body") or {}
        for kind in body.get("fields", {}).values():
            referenced |= _types(kind)
        referenced |= {body["model"]} if "model" in body else set()
        referenced |= {op.result} if op.result else set()
        assert set(op.styles) <= set(data["base_paths"]) and op.styles
    assert referenced - SCALARS <= set(models)
    keys = [(op.method, op.path) for op in conformance.operations()]
    assert len(keys) == len(set(keys))
    assert {op.raw["openapi_name"] for op in conformance.operations() if "openapi" in op.styles} == (
        METADATA_OPERATIONS
    )
    # The OpenAPI-only calls are not published under the seed base path.
    for name in ("list_executions", "get_task", "list_task_children", "list_operators_v2"):
        assert conformance.operation(name).styles == ("openapi",)


def create_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template": {"name": "t", "ref": "tpl-1"},
        "properties": {},
        "tags": [{"tagKey": "team", "tagValue": "ops"}],
    }
    body.update(changes)
    return body


def problems(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> list[str]:
    return conformance.check_request(method, path, query or {}, body, base_path=SEED)


def test_a_conforming_request_passes() -> None:
    assert problems("POST", SEED + "/v2/execution", body=create_body()) == []
    assert problems("GET", SEED + "/v2/execution", {"id": "d-1", "withLog": "true"}) == []
    assert conformance.check_request("POST", "/v2/execution/list", {}, {"pageNo": 1, "pageSize": 100},
                                     base_path="") == []  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        ("POST", "/v2/execution", {}, create_body(tags=[{"key": "team", "value": "ops"}]), "tagKey"),
        ("POST", "/v2/execution", {}, create_body(template={"ref": "tpl-1"}), "template.name"),
        ("POST", "/v2/execution", {}, create_body(clientToken="x"), "clientToken"),
        ("POST", "/v2/execution", {}, create_body(description=None), "null"),
        ("POST", "/v2/execution", {}, {"properties": {}}, "template is required"),
        ("POST", "/v2/execution", {}, create_body(template={"name": "t", "operators": [{"name": "s"}]}),
         "retries"),
        ("GET", "/v2/execution", {}, None, "'id' is required"),
        ("GET", "/v2/execution", {"id": "d-1", "withLog": "1"}, None, "withLog"),
        ("GET", "/v2/execution", {"id": "d-1", "verbose": "true"}, None, "verbose"),
        ("GET", "/v2/execution", {"id": "d-1", "locale": "fr-fr"}, None, "locale"),
        ("POST", "/v2/template/list", {"locale": "EN"}, {"pageNo": 1, "pageSize": 10}, "locale"),
        ("POST", "/v2/execution/list", {}, {"pageNo": 1, "pageSize": 101}, "maximum is 100"),
        ("POST", "/v2/execution/list", {}, {"pageNo": 0, "pageSize": 10}, "minimum is 1"),
        ("POST", "/v2/execution/list", {}, {"pageSize": 10}, "pageNo is required"),
        ("POST", "/v2/execution/list", {}, {"pageNo": 1, "pageSize": 10, "sort": "createTime"}, "sort"),
        ("POST", "/v2/template", {}, {"name": "t", "operators": [], "linear": False}, "links"),
        ("POST", "/v2/template", {}, {"name": "t", "operators": [], "linear": True,
                                      "tags": [{"tagKey": "a"}]}, "tagKey"),
        ("POST", "/v2/execution/cancel", {}, {"id": "d-1"}, "not a published operation"),
    ],
)  # fmt: skip
def test_a_nonconforming_request_is_named(
    method: str, path: str, query: dict[str, str], body: Any, expected: str
) -> None:
    found = problems(method, SEED + path, query, body)
    assert any(expected in problem for problem in found), found


def test_a_request_outside_the_base_path_is_named() -> None:
    assert "not under the configured base path" in problems("GET", "/v2/execution", {"id": "d-1"})[0]


def test_answers_are_checked_for_types_fields_and_logs() -> None:
    seed = shapes.seed_answer()["result"]
    assert conformance.check_result("get_execution", seed, strict=True) == []
    broken = copy.deepcopy(seed)
    broken["tasks"][0]["log"] = [{"timestamp": 1713941313269, "msg": "x"}]
    broken["tags"] = [{"key": "a", "value": "b"}]
    broken["createdTimestamp"] = "2024-04-24"
    broken["privateField"] = 1
    found = conformance.check_result("get_execution", broken, strict=True)
    for expected in ("log[0].timestamp must be string", "tags[0]", "createdTimestamp must be integer",
                     "privateField"):  # fmt: skip
        assert any(expected in problem for problem in found), (expected, found)
    # A tolerant reading allows unknown fields, not wrong types.
    assert not any("privateField" in p for p in conformance.check_result("get_execution", broken))
    assert conformance.log_problems(broken, with_log=False)
    assert conformance.log_problems(seed, with_log=True)
    del broken["tasks"][0]["outputContext"]
    assert any("outputContext" in p for p in conformance.check_result("get_execution", broken, strict=True))


def test_check_template_may_answer_without_result() -> None:
    assert conformance.check_result("check_template", None) == []
    assert conformance.check_result("create_execution", None)
