"""The published OOS operations: for each, the request it sends and how its ``result`` is read.

Pure: no I/O. Both hooks run these calls (`OosHook.run`, `OosAsyncHook.run`), so each operation
is built and read in one place; the bodies it sends are built and checked by
`airflow_provider_oos.client.payloads`. Bad input raises ValueError or TypeError naming the field,
before any request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypedDict, TypeVar

from pydantic import ValidationError

from airflow_provider_oos.client.model_base import read_answer
from airflow_provider_oos.client.models import (
    Execution,
    ExecutionPage,
    OperatorPage,
    Task,
    TaskPage,
    Template,
    TemplateCheck,
    TemplatePage,
)
from airflow_provider_oos.client.payloads import (
    API_VERSIONS,
    DEFAULT_TEMPLATE_TYPE,
    EXECUTION_FILTER_STATES,
    EXECUTION_SORTS,
    MAX_PAGE_SIZE,
    TEMPLATE_TYPES,
    TagsArg,
    as_template,
    choice,
    epoch_ms,
    execution_options,
    page_body,
    require_text,
    sorted_page_body,
    strict_bool,
    tags_payload,
    template_payload,
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
from airflow_provider_oos.exceptions import OosApiError, OosNotFoundError

if TYPE_CHECKING:
    from airflow_provider_oos.client.connection import OosConnectionConfig

T = TypeVar("T")


class ExecutionFilters(TypedDict, total=False):
    """The published filters of list-executions; see `list_executions` for each."""

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
    """One request of a published operation, and how to read its answer's ``result``.

    :param route: where it goes (method and path).
    :param read: turns the ``result`` (and the request path, for messages) into the return value;
        raises `OosApiError` (or `OosNotFoundError`) when the answer does not fit.
    :param query: query parameters, or None for none.
    :param body: the JSON body, or None for none.
    """

    route: Route
    read: Callable[[Any, str], T]
    query: dict[str, str] | None = None
    body: Any = None


class CallRunner(Protocol):
    """What sends an ``ApiCall`` and reads its answer: ``OosHook`` (described here, so the modules
    that only run calls, such as the create-token recovery and the connection test, need no hook import).
    """

    oos_conn_id: str

    @property
    def config(self) -> OosConnectionConfig: ...

    @property
    def log(self) -> Any: ...

    def run(self, call: ApiCall[T], *, attempts: int | None = None, base_path: str | None = None) -> T: ...


def parse_model(model: type[Any], result: Any, route: Route, path: str) -> Any:
    """Read ``result`` into ``model`` tolerantly (unknown fields kept, see `model_base`).

    :param model: the pydantic model to read.
    :param result: the answer's ``result``.
    :param route: the call, named in the error.
    :param path: the request path, named in the error.
    :return: the model instance.
    :raises OosApiError: ``result`` is not an object, or its shape does not fit ``model``.
    """
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
    """Create-execution: run an existing template (``ref``) or an inline one.

    :param template: ``{"ref": "tpl-…", "name": ...}`` or an inline template (``name`` and ``operators``).
    :param properties: the template's parameters.
    :param description: the execution's description.
    :param tags: execution tags, sent as ``tagKey``/``tagValue`` (see `read_tags` for the shapes).
    :param parallelism: how many loop iterations OOS runs at once; sent only when given.
    :param manually: whether each step waits for a person; sent only when given.
    :return: the call; its result is the new execution id (``d-…``).
    :raises ValueError: a bad template, tag or option, named.
    :raises TypeError: ``properties`` is not a dict, or a value of the wrong type.
    """
    if properties is not None and not isinstance(properties, Mapping):
        raise TypeError(f"properties must be a dict, got {type(properties).__name__}")
    body: dict[str, Any] = {"template": _execution_template(template), "properties": dict(properties or {})}
    if description is not None:
        body["description"] = description
    body["tags"] = tags_payload(tags)
    body.update(execution_options(parallelism, manually))
    return ApiCall(CREATE_EXECUTION, _read_id(CREATE_EXECUTION), body=body)


def get_execution(execution_id: str, *, with_log: bool = False) -> ApiCall[Execution]:
    """Get-execution.

    :param execution_id: the execution (``d-…``).
    :param with_log: also fetch each task's log lines.
    :return: the call; its result is the `Execution` (`OosNotFoundError` when OOS has none).
    :raises ValueError: ``execution_id`` is blank, or ``with_log`` is not a bool.
    """
    execution_id = require_text(execution_id, "execution_id", "an id such as 'd-…'")
    query = {"id": execution_id}
    if strict_bool(with_log, "with_log"):
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
    """List-executions (OpenAPI only): one page of the executions matching every filter given.

    :param page_no: the page, from 1.
    :param page_size: executions per page, from 1 to ``MAX_PAGE_SIZE``.
    :param template_name: only executions of this template.
    :param state: only this state: ``RUNNING``, ``SUCCESS``, ``FAILED``, ``CANCELED`` or ``PENDING``.
    :param trigger: only this trigger kind.
    :param cron_execution_name: only runs of this scheduled execution.
    :param event_execution_name: only runs of this event-triggered execution.
    :param start_time: started at or after: epoch ms or an aware ``datetime``.
    :param end_time: started at or before: epoch ms or an aware ``datetime``.
    :param sort: ``startTime`` or ``endTime``.
    :param ascending: sort order.
    :return: the call; its result is an `ExecutionPage`.
    :raises ValueError: a filter outside the published values, named.
    """
    body = page_body(page_no, page_size)
    if template_name is not None:
        body["template"] = {"name": require_text(template_name, "template_name", "a template name")}
    if state is not None:
        body["state"] = choice(state, "state", EXECUTION_FILTER_STATES)
    for key, value, name in (
        ("trigger", trigger, "trigger"),
        ("cronExecutionName", cron_execution_name, "cron_execution_name"),
        ("eventExecutionName", event_execution_name, "event_execution_name"),
    ):
        if value is not None:
            body[key] = require_text(value, name, "text")
    if start_time is not None:
        body["startTime"] = epoch_ms(start_time, "start_time")
    if end_time is not None:
        body["endTime"] = epoch_ms(end_time, "end_time")
    if sort is not None:
        body["sort"] = choice(sort, "sort", EXECUTION_SORTS)
    if ascending is not None:
        body["ascending"] = strict_bool(ascending, "ascending")
    return ApiCall(LIST_EXECUTIONS, _reader(ExecutionPage, LIST_EXECUTIONS), body=body)


def get_task(dag_id: str, task_id: str, *, ignore_children: bool = False) -> ApiCall[Task]:
    """Get-task (OpenAPI only): one task of an execution.

    :param dag_id: the execution id (``d-…``), as the API names it.
    :param task_id: the task (``t-…``).
    :param ignore_children: leave out the task's children (loop iterations).
    :return: the call; its result is the `Task` (`OosNotFoundError` when OOS has none).
    :raises ValueError: a blank id, or ``ignore_children`` is not a bool.
    """
    dag_id = require_text(dag_id, "dag_id", "the execution id, 'd-…'")
    task_id = require_text(task_id, "task_id", "a task id, 't-…'")
    query = {"dagId": dag_id, "taskId": task_id}
    if strict_bool(ignore_children, "ignore_children"):
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
    """List-task-children (OpenAPI only): one page of a task's children (its loop iterations).

    :param execution_id: the execution (``d-…``).
    :param task_id: the parent task (``t-…``).
    :param states: only children in these states, e.g. ``["FAILED"]``.
    :param page_no: the page, from 1.
    :param page_size: children per page, from 1 to ``MAX_PAGE_SIZE``.
    :return: the call; its result is a `TaskPage`.
    :raises ValueError: a blank id, ``states`` not a list of names, or a bad page.
    """
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
    """Create-template: store a template, checked by the client's template rules first.

    :param template: the template (``name`` and ``operators``).
    :return: the call; its result is the new template id (``tpl-…``).
    :raises ValueError: the template breaks a rule, named.
    :raises TypeError: ``template`` is neither a `Template` nor a dict.
    """
    body = template_payload(template, inline_required=True)
    return ApiCall(CREATE_TEMPLATE, _read_id(CREATE_TEMPLATE), body=body)


def check_template(template: Template | Mapping[str, Any]) -> ApiCall[TemplateCheck]:
    """Check-template: the service's verdict on a template, sent as given.

    :param template: the template to check.
    :return: the call; its result is a `TemplateCheck` (valid when OOS sends no result).
    :raises ValueError: the dict is not a template at all.
    :raises TypeError: ``template`` is neither a `Template` nor a dict.
    """
    return ApiCall(CHECK_TEMPLATE, _read_check, body=template_payload(template, inline_required=False))


def update_template(template: Template | Mapping[str, Any]) -> ApiCall[None]:
    """Update-template: replace a stored template, found by its ``id``.

    :param template: the whole new template, with the ``id`` from `get_template`.
    :return: the call; it returns nothing.
    :raises ValueError: no ``id``, or the template breaks a rule.
    :raises TypeError: ``template`` is neither a `Template` nor a dict.
    """
    body = template_payload(template, inline_required=True)
    if not body.get("id"):
        raise ValueError("template.id is required to update a template: take it from get_template()")
    return ApiCall(UPDATE_TEMPLATE, _read_nothing, body=body)


def delete_template(template_id: str) -> ApiCall[None]:
    """Delete-template.

    :param template_id: the template (``tpl-…``).
    :return: the call; it returns nothing.
    :raises ValueError: ``template_id`` is blank.
    """
    template_id = require_text(template_id, "template_id", "an id such as 'tpl-…'")
    return ApiCall(DELETE_TEMPLATE, _read_nothing, {"id": template_id})


def get_template(name: str, template_type: str = DEFAULT_TEMPLATE_TYPE) -> ApiCall[Template]:
    """Get-template, by name.

    :param name: the template's name.
    :param template_type: ``INDIVIDUAL`` (yours) or ``GLOBAL`` (Baidu's public templates).
    :return: the call; its result is the `Template` (`OosNotFoundError` when OOS has none).
    :raises ValueError: a blank name or another type.
    """
    name = require_text(name, "name", "the template's name")
    template_type = choice(template_type, "template_type", TEMPLATE_TYPES)
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
    """List-templates: one page of templates.

    :param page_no: the page, from 1.
    :param page_size: templates per page, from 1 to ``MAX_PAGE_SIZE``.
    :param sort: the field to sort by.
    :param ascending: sort order.
    :param name: only templates whose name matches.
    :param template_type: only ``INDIVIDUAL`` or only ``GLOBAL`` templates.
    :return: the call; its result is a `TemplatePage`.
    :raises ValueError: a bad page or another type.
    """
    body = sorted_page_body(page_no, page_size, sort, ascending)
    if name is not None:
        body["name"] = name
    if template_type is not None:
        body["type"] = choice(template_type, "template_type", TEMPLATE_TYPES)
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
    """List-operators: one page of the action types the service offers.

    :param page_no: the page, from 1.
    :param page_size: action types per page, from 1 to ``MAX_PAGE_SIZE``.
    :param sort: the field to sort by.
    :param ascending: sort order.
    :param name: only this action type, e.g. ``BCE::Agent::ExecuteShell``.
    :param api_version: ``v1`` (the list older SDKs call) or ``v2`` (OpenAPI).
    :return: the call; its result is an `OperatorPage`.
    :raises ValueError: a bad page, a blank name or another version.
    """
    route = LIST_OPERATORS if choice(api_version, "api_version", API_VERSIONS) == "v1" else LIST_OPERATORS_V2
    body = sorted_page_body(page_no, page_size, sort, ascending)
    if name is not None:
        body["operator"] = {"name": require_text(name, "name", "an action type name")}
    return ApiCall(route, _reader(OperatorPage, route), body=body)
