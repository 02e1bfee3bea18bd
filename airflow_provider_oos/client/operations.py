"""The published OOS operations: for each, the request it sends and how its `result` is read.

Pure: no I/O. Both hooks run these calls (`OosHook.run`, `OosAsyncHook.run`), so each operation
is built and read in one place. Bad input raises ValueError or TypeError naming the field,
before any request. Writes follow oos-api.md exactly: execution tags go as `tagKey`/`tagValue`,
template tags as `key`/`value`, and only the published fields are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

from pydantic import ValidationError

from airflow_provider_oos.client.model_base import read_answer
from airflow_provider_oos.client.models import (
    Execution,
    ExecutionPage,
    OperatorPage,
    Tag,
    Task,
    TaskPage,
    Template,
    TemplateCheck,
    TemplatePage,
)
from airflow_provider_oos.client.routes import (
    CHECK_TEMPLATE,
    CREATE_EXECUTION,
    CREATE_TEMPLATE,
    DELETE_TEMPLATE,
    GET_EXECUTION,
    GET_TASK,
    GET_TEMPLATE,
    LIST_EXECUTIONS,
    LIST_OPERATORS,
    LIST_OPERATORS_V2,
    LIST_TASK_CHILDREN,
    LIST_TEMPLATES,
    UPDATE_TEMPLATE,
    Route,
)
from airflow_provider_oos.client.template_rules import prepare_inline_template
from airflow_provider_oos.exceptions import OosApiError, OosNotFoundError

T = TypeVar("T")
TagsArg = Sequence[Tag | Mapping[str, Any]] | Mapping[str, Any] | None

MAX_PAGE_SIZE = 100
TEMPLATE_TYPES = ("INDIVIDUAL", "GLOBAL")
EXECUTION_SORTS = ("startTime", "endTime")
# The states the published list filter names (PAUSED and the rollback states are not among them).
EXECUTION_FILTER_STATES = ("RUNNING", "SUCCESS", "FAILED", "CANCELED", "PENDING")
API_VERSIONS = ("v1", "v2")


class ExecutionFilters(TypedDict, total=False):
    """The published filters of list-executions (times: epoch ms or aware datetimes)."""

    template_name: str | None
    state: str | None
    trigger: str | None
    cron_execution_name: str | None
    event_execution_name: str | None
    start_time: int | datetime | None
    end_time: int | datetime | None
    sort: str | None
    ascending: bool | None


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One request of a published operation, and how to read its answer's `result`.

    :param route: where it goes.
    :param read: turns the `result` (and the request path, for messages) into the return value.
    :param query: query parameters.
    :param body: the JSON body, or None for none.
    """

    route: Route
    read: Callable[[Any, str], T]
    query: dict[str, str] | None = None
    body: Any = None


def require_text(value: Any, name: str, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string ({hint}), got {value!r}")
    return value.strip()


def parse_model(model: type[Any], result: Any, route: Route, path: str) -> Any:
    """The model read tolerantly from `result`, or OosApiError naming the call."""
    if not isinstance(result, dict):
        raise OosApiError(
            f"unexpected result: expected a JSON object, got {type(result).__name__}",
            method=route.method,
            path=path,
        )
    try:
        return read_answer(model, result)
    except ValidationError as exc:
        raise OosApiError(
            f"unexpected result shape for {model.__name__}: {exc.errors(include_url=False)[:3]}",
            method=route.method,
            path=path,
        ) from None


def _reader(model: type[T], route: Route, absent: str | None = None) -> Callable[[Any, str], T]:
    def read(result: Any, path: str) -> T:
        if result is None and absent is not None:
            raise OosNotFoundError(absent, method=route.method, path=path)
        parsed: T = parse_model(model, result, route, path)
        return parsed

    return read


def _read_id(route: Route) -> Callable[[Any, str], str]:
    def read(result: Any, path: str) -> str:
        if isinstance(result, dict) and isinstance(result.get("id"), str) and result["id"]:
            return str(result["id"])
        raise OosApiError("unexpected result: no 'id' in the answer", method=route.method, path=path)

    return read


def _read_nothing(result: Any, path: str) -> None:
    return None


def _read_check(result: Any, path: str) -> TemplateCheck:
    # The generated SDK reads no `result` at all: success without one means valid.
    if result is None:
        return TemplateCheck(is_valid=True)
    parsed: TemplateCheck = parse_model(TemplateCheck, result, CHECK_TEMPLATE, path)
    return parsed


# -- request bodies ------------------------------------------------------------------------------


def as_template(template: Template | Mapping[str, Any], name: str = "template") -> Template:
    if isinstance(template, Template):
        return template
    if isinstance(template, Mapping):
        try:
            return Template.model_validate(dict(template))
        except ValidationError as exc:
            raise ValueError(f"{name} is not a valid OOS template: {exc}") from None
    raise TypeError(f"{name} must be a Template or a dict, got {type(template).__name__}")


def template_payload(template: Template | Mapping[str, Any], *, inline_required: bool) -> dict[str, Any]:
    """The JSON to send for a template. Templates to store or run are checked and completed by
    `prepare_inline_template` first; a template sent to check-template goes as given (that is the check).
    Template tags go as `key`/`value`."""
    parsed = as_template(template)
    body = (prepare_inline_template(parsed) if inline_required else parsed).to_api()
    if parsed.tags is not None:
        body["tags"] = [tag.to_template_tag() for tag in parsed.tags]
    return body


def read_tags(tags: TagsArg) -> list[Tag]:
    """Tags from a dict (key -> value) or a list of tags in either published shape."""
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        items: list[Any] = [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    elif isinstance(tags, list | tuple):
        items = list(tags)
    else:
        raise TypeError(f"tags must be a dict of key -> value or a list of tags, got {type(tags).__name__}")
    result = []
    for item in items:
        try:
            result.append(item if isinstance(item, Tag) else Tag.model_validate(item))
        except ValidationError:
            raise ValueError(
                f"tags: {item!r} is not a tag; use {{'tagKey': ..., 'tagValue': ...}} or a dict key -> value"
            ) from None
    return result


def tags_payload(tags: TagsArg) -> list[dict[str, Any]]:
    """Execution tags as published: `[{"tagKey", "tagValue"}]`."""
    return [tag.to_execution_tag() for tag in read_tags(tags)]


def page_body(page_no: int, page_size: int) -> dict[str, Any]:
    if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 1:
        raise ValueError(f"page_no must be an integer >= 1, got {page_no!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return {"pageNo": page_no, "pageSize": page_size}


def sorted_page_body(page_no: int, page_size: int, sort: str, ascending: bool) -> dict[str, Any]:
    return {**page_body(page_no, page_size), "sort": sort, "ascending": bool(ascending)}


def json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _epoch_ms(value: int | datetime, name: str) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: a datetime must be timezone-aware")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be epoch milliseconds (an integer >= 0) or an aware datetime")
    return value


def _choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def _optional_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


# -- executions ----------------------------------------------------------------------------------


def _execution_template(template: Template | Mapping[str, Any]) -> dict[str, Any]:
    parsed = as_template(template)
    if parsed.ref:
        return parsed.to_api()  # an existing template; `name` travels along when given
    if not parsed.name or not parsed.operators:
        raise ValueError(
            "template: give either ref (the id of an existing template, plus its name) "
            "or name and operators (an inline template)"
        )
    return template_payload(parsed, inline_required=True)


def create_execution(
    template: Template | Mapping[str, Any],
    properties: Mapping[str, Any] | None = None,
    description: str | None = None,
    tags: TagsArg = None,
    *,
    parallelism: int | None = None,
    manually: bool | None = None,
) -> ApiCall[str]:
    if properties is not None and not isinstance(properties, Mapping):
        raise TypeError(f"properties must be a dict, got {type(properties).__name__}")
    body: dict[str, Any] = {"template": _execution_template(template), "properties": dict(properties or {})}
    if description is not None:
        body["description"] = description
    body["tags"] = tags_payload(tags)
    if parallelism is not None:
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism must be an integer >= 1, got {parallelism!r}")
        body["parallelism"] = parallelism
    if manually is not None:
        body["manually"] = _optional_bool(manually, "manually")
    return ApiCall(CREATE_EXECUTION, _read_id(CREATE_EXECUTION), body=body)


def get_execution(execution_id: str, *, with_log: bool = False) -> ApiCall[Execution]:
    execution_id = require_text(execution_id, "execution_id", "an id such as 'd-…'")
    query = {"id": execution_id}
    if _optional_bool(with_log, "with_log"):
        query["withLog"] = "true"
    return ApiCall(
        GET_EXECUTION, _reader(Execution, GET_EXECUTION, f"execution {execution_id!r} not found"), query
    )


def list_executions(
    *,
    page_no: int = 1,
    page_size: int = MAX_PAGE_SIZE,
    template_name: str | None = None,
    state: str | None = None,
    trigger: str | None = None,
    cron_execution_name: str | None = None,
    event_execution_name: str | None = None,
    start_time: int | datetime | None = None,
    end_time: int | datetime | None = None,
    sort: str | None = None,
    ascending: bool | None = None,
) -> ApiCall[ExecutionPage]:
    body = page_body(page_no, page_size)
    if template_name is not None:
        body["template"] = {"name": require_text(template_name, "template_name", "a template name")}
    if state is not None:
        body["state"] = _choice(state, "state", EXECUTION_FILTER_STATES)
    for key, value, name in (
        ("trigger", trigger, "trigger"),
        ("cronExecutionName", cron_execution_name, "cron_execution_name"),
        ("eventExecutionName", event_execution_name, "event_execution_name"),
    ):
        if value is not None:
            body[key] = require_text(value, name, "text")
    if start_time is not None:
        body["startTime"] = _epoch_ms(start_time, "start_time")
    if end_time is not None:
        body["endTime"] = _epoch_ms(end_time, "end_time")
    if sort is not None:
        body["sort"] = _choice(sort, "sort", EXECUTION_SORTS)
    if ascending is not None:
        body["ascending"] = _optional_bool(ascending, "ascending")
    return ApiCall(LIST_EXECUTIONS, _reader(ExecutionPage, LIST_EXECUTIONS), body=body)


def get_task(dag_id: str, task_id: str, *, ignore_children: bool = False) -> ApiCall[Task]:
    dag_id = require_text(dag_id, "dag_id", "the execution id, 'd-…'")
    task_id = require_text(task_id, "task_id", "a task id, 't-…'")
    query = {"dagId": dag_id, "taskId": task_id}
    if _optional_bool(ignore_children, "ignore_children"):
        query["ignoreChildren"] = "true"
    return ApiCall(GET_TASK, _reader(Task, GET_TASK, f"task {task_id!r} of {dag_id!r} not found"), query)


def list_task_children(
    execution_id: str,
    task_id: str,
    *,
    states: Sequence[str] | None = None,
    page_no: int = 1,
    page_size: int = MAX_PAGE_SIZE,
) -> ApiCall[TaskPage]:
    body: dict[str, Any] = {
        "executionId": require_text(execution_id, "execution_id", "an id such as 'd-…'"),
        "taskId": require_text(task_id, "task_id", "a task id, 't-…'"),
    }
    if states is not None:
        if isinstance(states, str) or not all(isinstance(s, str) and s for s in states):
            raise ValueError(f"states must be a list of task states such as ['FAILED'], got {states!r}")
        body["states"] = list(states)
    body.update(page_body(page_no, page_size))
    return ApiCall(LIST_TASK_CHILDREN, _reader(TaskPage, LIST_TASK_CHILDREN), body=body)


# -- templates and action types ------------------------------------------------------------------


def create_template(template: Template | Mapping[str, Any]) -> ApiCall[str]:
    body = template_payload(template, inline_required=True)
    return ApiCall(CREATE_TEMPLATE, _read_id(CREATE_TEMPLATE), body=body)


def check_template(template: Template | Mapping[str, Any]) -> ApiCall[TemplateCheck]:
    return ApiCall(CHECK_TEMPLATE, _read_check, body=template_payload(template, inline_required=False))


def update_template(template: Template | Mapping[str, Any]) -> ApiCall[None]:
    body = template_payload(template, inline_required=True)
    if not body.get("id"):
        raise ValueError("template.id is required to update a template: take it from get_template()")
    return ApiCall(UPDATE_TEMPLATE, _read_nothing, body=body)


def delete_template(template_id: str) -> ApiCall[None]:
    template_id = require_text(template_id, "template_id", "an id such as 'tpl-…'")
    return ApiCall(DELETE_TEMPLATE, _read_nothing, {"id": template_id})


def get_template(name: str, template_type: str = "INDIVIDUAL") -> ApiCall[Template]:
    name = require_text(name, "name", "the template's name")
    template_type = _choice(template_type, "template_type", TEMPLATE_TYPES)
    absent = f"template {name!r} ({template_type}) not found"
    return ApiCall(
        GET_TEMPLATE, _reader(Template, GET_TEMPLATE, absent), {"name": name, "type": template_type}
    )


def list_templates(
    page_no: int = 1,
    page_size: int = MAX_PAGE_SIZE,
    sort: str = "createTime",
    ascending: bool = False,
    name: str | None = None,
    template_type: str | None = None,
) -> ApiCall[TemplatePage]:
    body = sorted_page_body(page_no, page_size, sort, ascending)
    if name is not None:
        body["name"] = name
    if template_type is not None:
        body["type"] = _choice(template_type, "template_type", TEMPLATE_TYPES)
    return ApiCall(LIST_TEMPLATES, _reader(TemplatePage, LIST_TEMPLATES), body=body)


def list_operators(
    page_no: int = 1,
    page_size: int = MAX_PAGE_SIZE,
    sort: str = "createTime",
    ascending: bool = False,
    *,
    name: str | None = None,
    api_version: str = "v1",
) -> ApiCall[OperatorPage]:
    route = LIST_OPERATORS if _choice(api_version, "api_version", API_VERSIONS) == "v1" else LIST_OPERATORS_V2
    body = sorted_page_body(page_no, page_size, sort, ascending)
    if name is not None:
        body["operator"] = {"name": require_text(name, "name", "an action type name")}
    return ApiCall(route, _reader(OperatorPage, route), body=body)
