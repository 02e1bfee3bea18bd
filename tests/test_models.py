"""pydantic models: the vendor page's GET-execution JSON round-trips, helpers answer right."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos.client.answers import parse_response
from airflow_provider_oos.client.models import (
    Execution,
    OperatorPage,
    Template,
    TemplateCheck,
    TemplateOperator,
    TemplatePage,
    is_failed,
    is_final,
    is_known,
    is_paused,
    is_successful,
)

SEED = json.loads((Path(__file__).parent / "support" / "seed_get_execution.json").read_text())


def seed_result() -> dict[str, Any]:
    return copy.deepcopy(SEED["result"])


def test_seed_execution_round_trips_field_for_field() -> None:
    execution = Execution.model_validate(seed_result())
    assert execution.to_api() == SEED["result"]
    assert json.loads(json.dumps(execution.to_api())) == SEED["result"]


def test_seed_envelope_round_trips() -> None:
    # The envelope is read by transport.parse_response (there is no Envelope model any more).
    assert SEED["success"] is True and SEED["code"] == 200
    result = parse_response(200, json.dumps(SEED).encode(), request_id=None, method="GET", path="/x")
    assert {**SEED, "result": Execution.model_validate(result).to_api()} == SEED


def test_seed_fields_are_typed() -> None:
    execution = Execution.model_validate(seed_result())
    assert execution.id == "d-*********34r"
    assert execution.created_timestamp == 1713941313268
    assert execution.trigger == "MANUAL"
    assert execution.template is not None and execution.template.linear is True
    step = execution.template.operators[0] if execution.template.operators else None
    assert isinstance(step, TemplateOperator)
    assert step.retry_interval == 60000 and step.pause_on_failure is False
    assert step.properties == {
        "instanceId": {"Ref": "instanceId"},
        "instances": [{"instanceId": "i-******kK"}],
    }
    task = execution.tasks[0]
    assert task.name == "stop_bcc" and task.revision == 79917077 and task.tries == 0


def test_seed_helpers() -> None:
    execution = Execution.model_validate(seed_result())
    assert execution.is_final and execution.is_successful
    assert not execution.is_failed and not execution.is_paused
    assert execution.failed_task() is None
    assert execution.outputs_by_task() == {"stop_bcc": {"instances": [{"instanceId": "i-******kK"}]}}
    assert execution.task_states() == {"stop_bcc": "SUCCESS"}


def test_unknown_fields_are_kept_and_dumped() -> None:
    raw = seed_result()
    raw["newTopField"] = {"a": 1}
    raw["tasks"][0]["brandNewTaskField"] = [1, 2]
    raw["template"]["operators"][0]["futureKnob"] = True
    execution = Execution.model_validate(raw)
    assert execution.to_api() == raw


def test_failed_task_and_reason_including_nested_children() -> None:
    raw = seed_result()
    raw["state"] = "FAILED"
    first = raw["tasks"][0]
    child_ok = {**copy.deepcopy(first), "id": "t-child-ok", "state": "SUCCESS", "children": []}
    child_bad = {
        **copy.deepcopy(first),
        "id": "t-child-bad",
        "state": "FAILED",
        "reason": "instance i-x not found",
        "operator": {**first["operator"], "name": "stop_child"},
        "children": [],
    }
    first["state"] = "UPSTREAM_FAILED"
    first["children"] = [child_ok, child_bad]
    execution = Execution.model_validate(raw)
    assert execution.is_final and execution.is_failed and not execution.is_successful
    failed = execution.failed_task()
    assert failed is not None
    assert failed.name == "stop_child" and failed.reason == "instance i-x not found"
    assert [task.id for task in execution.all_tasks()] == [first["id"], "t-child-ok", "t-child-bad"]


def test_outputs_by_task_name_for_several_steps() -> None:
    raw = seed_result()
    second = copy.deepcopy(raw["tasks"][0])
    second["operator"]["name"] = "run_shell"
    second["outputContext"] = {"exitCode": 0, "stdout": "done"}
    raw["tasks"].append(second)
    raw["tasks"][0]["outputContext"] = None
    outputs = Execution.model_validate(raw).outputs_by_task()
    assert outputs == {"stop_bcc": {}, "run_shell": {"exitCode": 0, "stdout": "done"}}


@pytest.mark.parametrize(
    ("state", "final", "success", "failed", "paused"),
    [
        ("SUCCESS", True, True, False, False),
        ("FAILED", True, False, True, False),
        ("CANCELED", True, False, True, False),
        ("CANCELLED", True, False, True, False),
        ("ROLLBACK_SUCCESS", True, False, True, False),
        ("ROLLBACK_FAILED", True, False, True, False),
        ("PAUSED", False, False, False, True),
        ("RUNNING", False, False, False, False),
        ("PENDING", False, False, False, False),
        ("ROLLBACK", False, False, False, False),
        ("SOMETHING_NEW", False, False, False, False),
        (None, False, False, False, False),
    ],
)
def test_state_classification(
    state: str | None, final: bool, success: bool, failed: bool, paused: bool
) -> None:
    assert (is_final(state), is_successful(state), is_failed(state), is_paused(state)) == (
        final,
        success,
        failed,
        paused,
    )
    raw = {**seed_result(), "state": state}
    execution = Execution.model_validate(raw)
    assert (execution.is_final, execution.is_successful) == (final, success)


def test_unknown_state_is_not_known() -> None:
    assert not is_known("SOMETHING_NEW") and is_known("ROLLBACK") and is_known("CANCELLED")


def test_template_accepts_camel_case_and_field_names_and_dumps_only_what_was_set() -> None:
    camel = Template.model_validate(
        {"name": "t", "operators": [{"name": "s", "operator": "BCE::BCC::StopInstance", "retryInterval": 5}]}
    )
    snake = Template(
        name="t", operators=[TemplateOperator(name="s", operator="BCE::BCC::StopInstance", retry_interval=5)]
    )
    expected = {
        "name": "t",
        "operators": [{"name": "s", "operator": "BCE::BCC::StopInstance", "retryInterval": 5}],
    }
    assert camel.to_api() == snake.to_api() == expected


def test_template_check_accepts_both_spellings() -> None:
    assert TemplateCheck.model_validate({"isValid": True}).ok
    assert TemplateCheck.model_validate({"valid": True, "reason": ""}).ok
    check = TemplateCheck.model_validate({"isValid": False, "reason": "operators[0].operator unknown"})
    assert not check.ok and check.reason == "operators[0].operator unknown"


def test_pages_parse() -> None:
    page = TemplatePage.model_validate(
        {
            "templates": [{"id": "tpl-1", "name": "a"}],
            "orderBy": "createTime",
            "order": "desc",
            "pageNo": 1,
            "pageSize": 10,
            "totalCount": 1,
        }
    )
    assert page.templates[0].id == "tpl-1" and page.total_count == 1 and page.order_by == "createTime"
    operators = OperatorPage.model_validate(
        {"operators": [{"name": "BCE::BCC::StopInstance", "x": 1}], "totalCount": 7}
    )
    assert operators.operators[0].name == "BCE::BCC::StopInstance" and operators.total_count == 7


def test_tags_are_read_in_both_shapes_and_written_in_the_published_one() -> None:
    from airflow_provider_oos.client.models import Tag

    raw = {**seed_result(), "tags": [{"tagKey": "team", "tagValue": "ops"}, {"key": "env", "value": "prod"}]}
    execution = Execution.model_validate(raw)
    assert execution.tag_map() == {"team": "ops", "env": "prod"}
    assert execution.to_api()["tags"] == [
        {"tagKey": "team", "tagValue": "ops"},
        {"tagKey": "env", "tagValue": "prod"},
    ]
    template = Template.model_validate({"name": "t", "tags": [{"tagKey": "a", "tagValue": "b"}]})
    assert template.to_api()["tags"] == [{"key": "a", "value": "b"}]  # template tags stay key/value
    tag = Tag.model_validate({"tagKey": "k", "tagValue": "v"})
    assert (tag.to_execution_tag(), tag.to_template_tag()) == (
        {"tagKey": "k", "tagValue": "v"},
        {"key": "k", "value": "v"},
    )


def test_what_does_not_fit_is_kept_raw_and_read_as_none() -> None:
    raw = seed_result()
    raw["createdTimestamp"] = "2026-11-28T03:00:00Z"
    raw["tasks"][0]["loopIndex"] = {"odd": True}
    raw["tasks"][0]["context"] = ["any", "json"]
    raw["tasks"][0]["log"] = [{"timestamp": "2026-11-28T03:00:01Z", "msg": {"structured": 1}}]
    execution = Execution.model_validate(raw)
    assert execution.created_timestamp is None and execution.tasks[0].loop_index is None
    assert execution.tasks[0].context == ["any", "json"]
    log = execution.tasks[0].log or []
    assert log[0].timestamp == "2026-11-28T03:00:01Z" and log[0].text == '{"structured": 1}'
    assert execution.to_api() == raw


def test_templates_a_user_writes_stay_strict() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Template.model_validate({"name": "t", "linear": "sometimes"})
    with pytest.raises(ValidationError):
        Template.model_validate({"name": "t", "operators": [{"name": "s", "retries": "many"}]})


def test_outputs_and_a_new_execution_without_tasks() -> None:
    raw = {**seed_result(), "tasks": None}
    assert Execution.model_validate(raw).tasks == []
    raw = seed_result()
    raw["tasks"][0]["outputContext"] = ["not", "an", "object"]
    assert Execution.model_validate(raw).outputs_by_task() == {"stop_bcc": {"value": ["not", "an", "object"]}}


def test_pages_of_executions_and_task_children() -> None:
    from airflow_provider_oos.client.models import ExecutionPage, TaskPage

    executions = ExecutionPage.model_validate({"executions": [seed_result()], "totalCount": 1, "pageNo": 1})
    assert executions.executions[0].id == SEED["result"]["id"] and executions.total_count == 1
    # The generated SDK names the children page's items `children` and its count `total`.
    children = TaskPage.model_validate({"children": [{"id": "t-1", "loopIndex": 2}], "total": 9})
    assert children.tasks[0].loop_index == 2 and children.total_count == 9
    assert children.to_api() == {"children": [{"id": "t-1", "loopIndex": 2}], "total": 9}
    older = TaskPage.model_validate({"tasks": [{"id": "t-2"}], "totalCount": 1})
    assert older.tasks[0].id == "t-2" and older.total_count == 1
    assert older.to_api() == {"children": [{"id": "t-2"}], "total": 1}
