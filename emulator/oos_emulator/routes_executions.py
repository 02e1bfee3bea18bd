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
    shape = (
        'tags must be a list of {"tagKey": …, "tagValue": …} objects '
        "(execution tags; template tags use key/value)"
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
            raise ApiError(400, f"tags[{index}]: {shape}")
    return tags


def _create_options(body: dict[str, Any]) -> dict[str, Any]:
    """`parallelism` and `manually` of the create body: stored and answered as given."""
    options: dict[str, Any] = {}
    if body.get("parallelism") is not None:
        if not is_int(body["parallelism"]) or body["parallelism"] < 0:
            raise ApiError(400, f"parallelism must be a non-negative integer, got {body['parallelism']!r}")
        options["parallelism"] = body["parallelism"]
    if body.get("manually") is not None:
        if not isinstance(body["manually"], bool):
            raise ApiError(400, f"manually must be true or false, got {body['manually']!r}")
        options["manually"] = body["manually"]
    return options


def _list_filters(body: dict[str, Any], now: int) -> dict[str, Any]:
    template = body.get("template")
    if template is not None:
        name = as_object(template, "template (the filter {name})").get("name")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "template.name must be a string (one template name)")
        template = name
    filters: dict[str, Any] = {"template": template}
    for key in _STRING_FILTERS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{key} must be a string, got {value!r}")
        filters[key] = value or None
    if filters["state"] and filters["state"] not in EXECUTION_STATES:
        raise ApiError(400, f"state must be one of {list(EXECUTION_STATES)}, got {filters['state']!r}")
    for key, default in (("startTime", now - _DEFAULT_LIST_WINDOW_MS), ("endTime", now)):
        value = body.get(key)
        if value is not None and (not is_int(value) or value < 0):
            raise ApiError(400, f"{key} must be epoch milliseconds (a non-negative integer), got {value!r}")
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
            raise ApiError(400, "properties must be a JSON object of parameter values")
        tags = _tags(body)
        options = _create_options(body)
        with store.lock:
            if template.get("ref"):
                stored = store.templates.get(template["ref"])
                if stored is None:
                    raise ApiError(404, f"template.ref: template {template['ref']} not found")
                snapshot = copy.deepcopy(stored.body)
            else:
                snapshot = validated(template)
            try:
                all_properties = execution_properties(snapshot, properties)
            except TemplateInvalid as error:
                raise ApiError(400, str(error)) from None
            created = now_ms()
            tasks = [new_task(step, store.next_revision(), created + 1) for step in snapshot["operators"]]
            execution: dict[str, Any] = {"id": random_id("d-", 12)}
            if body.get("description"):
                execution["description"] = body["description"]
            execution.update(
                template=snapshot,
                **options,
                createdTimestamp=created,
                updatedTimestamp=created,
                state="PENDING",
                properties=properties,
                tasks=tasks,
                tags=tags,
                trigger="MANUAL",
            )
            runtime = new_runtime(tasks)
            runtime["allProperties"] = all_properties
            delay = emulator.faults.list_visibility_delay_ms(request.method, request.url.path)
            if delay:
                runtime["listVisibleAt"] = created + delay
            store.save_execution(ExecutionRecord(execution, runtime))
        emulator.engine.poke(execution["id"])
        return envelope({"id": execution["id"]})

    @router.post("/v2/execution/list")
    async def list_executions(request: Request) -> Response:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=True)
        sort, ascending = sorting(body, _LIST_SORT_FIELDS, "startTime")
        now = now_ms()
        filters = _list_filters(body, now)
        with store.lock:
            found = [
                record.body
                for record in store.executions.values()
                if record.runtime.get("listVisibleAt", 0) <= now and _matches(record.body, filters)
            ]

            def key(execution: dict[str, Any]) -> float:
                if sort == "startTime":
                    return float(execution["createdTimestamp"])
                return float(execution.get("finishedTimestamp") or float("inf"))  # still running: last

            found.sort(key=key, reverse=not ascending)
            result = page(found, "executions", page_no, page_size, sort, ascending)
            result["executions"] = [copy.deepcopy(execution_view(e, False)) for e in result["executions"]]
        return envelope(result)

    @router.get("/v2/task")
    async def task_detail(request: Request) -> Response:
        dag_id = request.query_params.get("dagId")
        task_id = request.query_params.get("taskId")
        if not dag_id or not task_id:
            raise ApiError(400, "query parameters dagId (the execution id) and taskId are required")
        ignore_children = query_flag(request.query_params.get("ignoreChildren"), "ignoreChildren")
        with store.lock:
            record = store.executions.get(dag_id)
            if record is None:
                raise ApiError(404, f"execution {dag_id} not found")
            task = _find_task(record.body["tasks"], task_id)
            if task is None:
                raise ApiError(404, f"task {task_id} not found in execution {dag_id}")
            answer = copy.deepcopy(task_view(task, False))
        if ignore_children:  # "only the task itself, without loading its children"
            answer.pop("children", None)
        return envelope(answer)

    @router.post("/v2/task/children/list")
    async def task_children(request: Request) -> Response:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=True)
        execution_id, task_id, states = body.get("executionId"), body.get("taskId"), body.get("states")
        if not isinstance(task_id, str) or not task_id:
            raise ApiError(400, "taskId (the id of the loop step's task) is required")
        if execution_id is not None and not isinstance(execution_id, str):
            raise ApiError(400, "executionId must be a string (the execution id)")
        if states is not None and (
            not isinstance(states, list) or not all(isinstance(s, str) for s in states)
        ):
            raise ApiError(400, 'states must be a list of task states, e.g. ["FAILED"]')
        with store.lock:
            if execution_id:
                record = store.executions.get(execution_id)
                if record is None:
                    raise ApiError(404, f"execution {execution_id} not found")
                records = [record]
            else:
                records = list(store.executions.values())
            task = next((t for r in records if (t := _find_task(r.body["tasks"], task_id))), None)
            if task is None:
                where = f" in execution {execution_id}" if execution_id else ""
                raise ApiError(404, f"task {task_id} not found{where}")
            children = [c for c in task.get("children") or [] if not states or c["state"] in states]
            start = (page_no - 1) * page_size
            shown = [copy.deepcopy(task_view(c, False)) for c in children[start : start + page_size]]
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
