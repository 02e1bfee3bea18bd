"""OOS routes for executions: create, list (OpenAPI), and the two task calls (OpenAPI).

GET execution itself is served by the gateway (the polling hot path).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oos_emulator.api import (
    ApiError,
    as_object,
    envelope,
    is_int,
    json_body,
    page,
    page_numbers,
    query_flag,
    sorting,
)
from oos_emulator.engine import new_runtime, new_task
from oos_emulator.routes_templates import validated
from oos_emulator.store import ExecutionRecord, execution_view, now_ms, random_id, task_view
from oos_emulator.templates import TemplateInvalid, execution_properties
from oos_emulator.texts import localize_execution, localize_task, request_locale, t

if TYPE_CHECKING:
    from oos_emulator.state import Emulator

EXECUTION_STATES = (
    "PENDING",
    "RUNNING",
    "PAUSED",
    "ROLLBACK",
    "SUCCESS",
    "FAILED",
    "CANCELED",
    "ROLLBACK_SUCCESS",
    "ROLLBACK_FAILED",
)
_LIST_SORT_FIELDS = ("startTime", "endTime")
_DEFAULT_LIST_WINDOW_MS = 7 * 24 * 3600 * 1000  # the metadata: startTime defaults to 7 days ago
_STRING_FILTERS = ("state", "trigger", "cronExecutionName", "eventExecutionName")


def _tags(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Execution tags are `{"tagKey", "tagValue"}` (template tags are key/value)."""
    tags = body.get("tags") or []
    shape = t(
        'tags must be a list of {{"tagKey": …, "tagValue": …}} objects '
        "(execution tags; template tags use key/value)",
        'tags 必须是 {{"tagKey": …, "tagValue": …}} 对象的列表（执行标签；模板标签用 key/value）',
    )
    if not isinstance(tags, list):
        raise ApiError(400, shape)
    for index, tag in enumerate(tags):
        if (
            not isinstance(tag, dict)
            or not isinstance(tag.get("tagKey"), str)
            or not tag["tagKey"]
            or not isinstance(tag.get("tagValue", ""), str | None)
        ):
            raise ApiError(400, t("tags[{i}]: {shape}", "tags[{i}]：{shape}", i=index, shape=shape))
    return tags


def _create_options(body: dict[str, Any]) -> dict[str, Any]:
    """`parallelism` and `manually` of the create body: stored and answered as given."""
    options: dict[str, Any] = {}
    if body.get("parallelism") is not None:
        if not is_int(body["parallelism"]) or body["parallelism"] < 0:
            raise ApiError(
                400,
                t(
                    "parallelism must be a non-negative integer, got {v!r}",
                    "parallelism 必须是非负整数，收到 {v!r}",
                    v=body["parallelism"],
                ),
            )
        options["parallelism"] = body["parallelism"]
    if body.get("manually") is not None:
        if not isinstance(body["manually"], bool):
            raise ApiError(
                400,
                t(
                    "manually must be true or false, got {v!r}",
                    "manually 必须是 true 或 false，收到 {v!r}",
                    v=body["manually"],
                ),
            )
        options["manually"] = body["manually"]
    return options


def _list_filters(body: dict[str, Any], now: int) -> dict[str, Any]:
    template = body.get("template")
    if template is not None:
        name = as_object(template, "template (the filter {name})").get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(
                400,
                t(
                    "template.name must be a string (one template name)",
                    "template.name 必须是字符串（一个模板名）",
                ),
            )
        template = name
    filters: dict[str, Any] = {"template": template}
    for key in _STRING_FILTERS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ApiError(
                400,
                t("{key} must be a string, got {v!r}", "{key} 必须是字符串，收到 {v!r}", key=key, v=value),
            )
        filters[key] = value or None
    if filters["state"] and filters["state"] not in EXECUTION_STATES:
        raise ApiError(
            400,
            t(
                "state must be one of {states}, got {v!r}",
                "state 必须是 {states} 之一，收到 {v!r}",
                states=list(EXECUTION_STATES),
                v=filters["state"],
            ),
        )
    for key, default in (("startTime", now - _DEFAULT_LIST_WINDOW_MS), ("endTime", now)):
        value = body.get(key)
        if value is not None and (not is_int(value) or value < 0):
            raise ApiError(
                400,
                t(
                    "{key} must be epoch milliseconds (a non-negative integer), got {v!r}",
                    "{key} 必须是毫秒时间戳（非负整数），收到 {v!r}",
                    key=key,
                    v=value,
                ),
            )
        filters[key] = default if value is None else value
    return filters


def _matches(execution: dict[str, Any], f: dict[str, Any]) -> bool:
    cron = (execution.get("cronExecution") or {}).get("name")
    event = (execution.get("eventExecution") or {}).get("name")
    return (
        f["startTime"] <= execution["createdTimestamp"] <= f["endTime"]
        and (f["template"] is None or execution["template"].get("name") == f["template"])
        and (f["state"] is None or execution["state"] == f["state"])
        and (f["trigger"] is None or execution.get("trigger") == f["trigger"])
        and (f["cronExecutionName"] is None or cron == f["cronExecutionName"])
        and (f["eventExecutionName"] is None or event == f["eventExecutionName"])
    )


def _find_task(tasks: list[dict[str, Any]], task_id: str) -> dict[str, Any] | None:
    for task in tasks:
        if task["id"] == task_id:
            return task
        found = _find_task(task.get("children") or [], task_id)
        if found is not None:
            return found
    return None


def start_execution(
    emulator: Emulator,
    snapshot: dict[str, Any],
    properties: dict[str, Any],
    all_properties: dict[str, Any],
    *,
    description: str | None = None,
    options: dict[str, Any] | None = None,
    tags: list[dict[str, Any]] | None = None,
    trigger: str = "MANUAL",
    cron_execution: dict[str, Any] | None = None,
    list_delay_ms: int = 0,
) -> str:
    """Store a new PENDING execution of ``snapshot`` and start it; its id.

    Shared by create-execution (``trigger`` MANUAL) and the admin start of a cron run (``trigger``
    CRON with its ``cronExecution``, what OOS's own scheduler would start).
    """
    store = emulator.store
    with store.lock:
        created = now_ms()
        tasks = [new_task(step, store.next_revision(), created + 1) for step in snapshot["operators"]]
        execution: dict[str, Any] = {"id": random_id("d-", 12)}
        if description:
            execution["description"] = description
        execution.update(
            template=snapshot,
            **(options or {}),
            createdTimestamp=created,
            updatedTimestamp=created,
            state="PENDING",
            properties=properties,
            tasks=tasks,
            tags=tags or [],
            trigger=trigger,
        )
        if cron_execution is not None:
            execution["cronExecution"] = cron_execution
        runtime = new_runtime(tasks)
        runtime["allProperties"] = all_properties
        if list_delay_ms:
            runtime["listVisibleAt"] = created + list_delay_ms
        store.save_execution(ExecutionRecord(execution, runtime))
    emulator.engine.poke(execution["id"])
    return str(execution["id"])


def execution_router(emulator: Emulator, base_path: str) -> APIRouter:
    router = APIRouter(prefix=base_path)
    store = emulator.store

    @router.post("/v2/execution")
    async def create_execution(request: Request) -> Response:
        store.bump("createExecutionCalls")
        body = as_object(await json_body(request), "request body")
        template = as_object(body.get("template"), "template")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise ApiError(
                400,
                t(
                    "properties must be a JSON object of parameter values",
                    "properties 必须是参数值的 JSON 对象",
                ),
            )
        tags = _tags(body)
        options = _create_options(body)
        with store.lock:
            if template.get("ref"):
                stored = store.templates.get(template["ref"])
                if stored is None:
                    raise ApiError(
                        404,
                        t(
                            "template.ref: template {ref} not found",
                            "template.ref：模板 {ref} 不存在",
                            ref=template["ref"],
                        ),
                    )
                snapshot = copy.deepcopy(stored.body)
            else:
                snapshot = validated(template)
            try:
                all_properties = execution_properties(snapshot, properties)
            except TemplateInvalid as error:
                raise ApiError(400, error.text) from None
        execution_id = start_execution(
            emulator,
            snapshot,
            properties,
            all_properties,
            description=body.get("description"),
            options=options,
            tags=tags,
            list_delay_ms=emulator.faults.list_visibility_delay_ms(request.method, request.url.path),
        )
        return envelope({"id": execution_id})

    @router.post("/v2/execution/list")
    async def list_executions(request: Request) -> Response:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=True)
        sort, ascending = sorting(body, _LIST_SORT_FIELDS, "startTime")
        locale = request_locale(request.query_params.get("locale"))
        now = now_ms()
        filters = _list_filters(body, now)
        with store.lock:
            found = [
                record
                for record in store.executions.values()
                if record.runtime.get("listVisibleAt", 0) <= now and _matches(record.body, filters)
            ]

            def key(record: ExecutionRecord) -> float:
                if sort == "startTime":
                    return float(record.body["createdTimestamp"])
                return float(record.body.get("finishedTimestamp") or float("inf"))  # still running: last

            found.sort(key=key, reverse=not ascending)
            result = page(found, "executions", page_no, page_size, sort, ascending)
            result["executions"] = [
                copy.deepcopy(localize_execution(execution_view(r.body, False), locale, r.runtime))
                for r in result["executions"]
            ]
        return envelope(result)

    @router.get("/v2/task")
    async def task_detail(request: Request) -> Response:
        dag_id = request.query_params.get("dagId")
        task_id = request.query_params.get("taskId")
        if not dag_id or not task_id:
            raise ApiError(
                400,
                t(
                    "query parameters dagId (the execution id) and taskId are required",
                    "缺少查询参数 dagId（执行 ID）和 taskId",
                ),
            )
        ignore_children = query_flag(request.query_params.get("ignoreChildren"), "ignoreChildren")
        with store.lock:
            record = store.executions.get(dag_id)
            if record is None:
                raise ApiError(404, t("execution {id} not found", "执行 {id} 不存在", id=dag_id))
            task = _find_task(record.body["tasks"], task_id)
            if task is None:
                raise ApiError(
                    404,
                    t(
                        "task {task} not found in execution {id}",
                        "执行 {id} 中不存在任务 {task}",
                        task=task_id,
                        id=dag_id,
                    ),
                )
            locale = request_locale(request.query_params.get("locale"))
            answer = copy.deepcopy(localize_task(task_view(task, False), locale, record.runtime))
        if ignore_children:  # "only the task itself, without loading its children"
            answer.pop("children", None)
        return envelope(answer)

    @router.post("/v2/task/children/list")
    async def task_children(request: Request) -> Response:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=True)
        execution_id, task_id, states = body.get("executionId"), body.get("taskId"), body.get("states")
        if not isinstance(task_id, str) or not task_id:
            raise ApiError(
                400,
                t("taskId (the id of the loop step's task) is required", "缺少 taskId（循环步骤的任务 ID）"),
            )
        if execution_id is not None and not isinstance(execution_id, str):
            raise ApiError(
                400,
                t("executionId must be a string (the execution id)", "executionId 必须是字符串（执行 ID）"),
            )
        if states is not None and (
            not isinstance(states, list) or not all(isinstance(s, str) for s in states)
        ):
            raise ApiError(
                400,
                t(
                    'states must be a list of task states, e.g. ["FAILED"]',
                    'states 必须是任务状态的列表，例如 ["FAILED"]',
                ),
            )
        locale = request_locale(request.query_params.get("locale"))
        with store.lock:
            if execution_id:
                record = store.executions.get(execution_id)
                if record is None:
                    raise ApiError(404, t("execution {id} not found", "执行 {id} 不存在", id=execution_id))
                records = [record]
            else:
                records = list(store.executions.values())
            owner, task = next(
                ((r, found) for r in records if (found := _find_task(r.body["tasks"], task_id))), (None, None)
            )
            if owner is None or task is None:
                if execution_id:
                    missing = t(
                        "task {task} not found in execution {id}",
                        "执行 {id} 中不存在任务 {task}",
                        task=task_id,
                        id=execution_id,
                    )
                else:
                    missing = t("task {task} not found", "任务 {task} 不存在", task=task_id)
                raise ApiError(404, missing)
            children = [c for c in task.get("children") or [] if not states or c["state"] in states]
            start = (page_no - 1) * page_size
            shown = [
                copy.deepcopy(localize_task(task_view(c, False), locale, owner.runtime))
                for c in children[start : start + page_size]
            ]
        # The page of the generated SDK's TaskChildrenPage: children and total.
        return envelope(
            {
                "children": shown,
                "total": len(children),
                "orderBy": "loopIndex",
                "order": "asc",
                "pageNo": page_no,
                "pageSize": page_size,
            }
        )

    return router
