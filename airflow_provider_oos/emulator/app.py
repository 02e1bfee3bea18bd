"""The emulator's HTTP face: the 9 OOS endpoints, the BCE gateway in front of them, the admin API.

`Gateway` is a raw ASGI middleware doing what the real gateway does for every OOS call: request
id, fault injection, bce-auth-v1 verification. The FastAPI app behind it holds the business rules.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_oos.emulator import actions
from airflow_provider_oos.emulator.engine import Engine, EngineError, new_runtime, new_task
from airflow_provider_oos.emulator.faults import FaultRule, FaultTable
from airflow_provider_oos.emulator.signature import AuthRejected, KeyPair, parse_query, verify
from airflow_provider_oos.emulator.store import ExecutionRecord, Store, dumps, now_ms, random_id
from airflow_provider_oos.emulator.templates import (
    TemplateInvalid,
    execution_properties,
    normalize_template,
)

OOS_PREFIX = "/api/logic/oos"
EXECUTION_PATH = OOS_PREFIX + "/v2/execution"
JSON_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "x-bce-request-id"
_SORT_FIELDS = ("createTime", "updateTime", "name")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class EmulatorConfig:
    keys: dict[str, KeyPair]
    db_path: str | None = None
    time_scale: float = 1.0
    instances: list[str] = field(default_factory=list)


class Emulator:
    """Everything one running emulator holds: store, engine, fault table, request counts."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.engine = Engine(self.store, config.time_scale)
        self.faults = FaultTable()
        self.requests: dict[str, int] = {}
        self._requests_lock = threading.Lock()
        # Set by the CLI: lets a "drop" fault find the connection to abort.
        self.connections: Callable[[], Any] | None = None
        if not self.store.instances and not self.store.executions:
            self.seed()

    def seed(self) -> None:
        if self.config.instances:
            self.store.put_instances(self.config.instances, "Running")

    def count_request(self, method: str, path: str) -> None:
        key = f"{method} {path}"
        with self._requests_lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def reset(self) -> None:
        with self.store.lock:
            self.store.reset()
            self.faults.clear()
            with self._requests_lock:
                self.requests.clear()
            self.seed()


class ApiError(Exception):
    """A business error, answered as the OOS envelope with `success=false`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(result: Any) -> Response:
    body = {"success": True, "msg": "", "code": 200, "result": result}
    return Response(content=dumps(body).encode(), media_type=JSON_TYPE)


def bce_error_body(code: str, message: str, request_id: str) -> bytes:
    return dumps({"code": code, "message": message, "requestId": request_id}).encode()


# --- gateway ------------------------------------------------------------------------------------
class Gateway:
    """Request id on every answer; for OOS paths: counting, faults, signature check."""

    def __init__(self, app: AsgiApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        path: str = scope["path"]
        if not path.startswith(OOS_PREFIX + "/"):
            await self.app(scope, receive, send_with_id)
            return
        method: str = scope["method"]
        self.emulator.count_request(method, path)
        fault = self.emulator.faults.decide(method, path)
        if fault and fault.latency_seconds:
            await asyncio.sleep(fault.latency_seconds)
        outcome = fault.outcome if fault else None
        if outcome == "429":
            await _send_bce_error(send_with_id, 429, "TooManyRequests", "Request rate exceeded.", request_id)
            return
        if outcome == "503":
            await _send_bce_error(
                send_with_id, 503, "ServiceUnavailable", "Service is temporarily unavailable.", request_id
            )
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        query = parse_query(scope["query_string"])
        try:
            verify(self.emulator.config.keys, method, path, query, headers)
        except AuthRejected as rejected:
            await _send_bce_error(send_with_id, rejected.status, rejected.code, rejected.message, request_id)
            return
        if outcome is None:
            await self._handle(scope, receive, send_with_id, query)
            return

        async def discard(message: Message) -> None:
            return None

        await self._handle(scope, receive, discard, query)  # the call takes effect; its answer is lost
        if outcome == "500":
            await _send_bce_error(
                send_with_id,
                500,
                "InternalError",
                "We encountered an internal error. Please try again.",
                request_id,
            )
            return
        await self._drop(scope)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
        if scope["method"] == "GET" and scope["path"] == EXECUTION_PATH:
            await self._get_execution(query, send)
        else:
            await self.app(scope, receive, send)

    async def _get_execution(self, query: dict[str, str], send: Send) -> None:
        """GET execution, served here rather than through FastAPI: polling is the hot path."""
        execution_id = query.get("id")
        answer = self.emulator.store.execution_answer(execution_id) if execution_id else None
        status = 200
        if answer is None:
            status = 404 if execution_id else 400
            message = (
                f"execution {execution_id} not found"
                if execution_id
                else "query parameter id (the execution id) is required"
            )
            answer = dumps({"success": False, "msg": message, "code": status, "result": None}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_TYPE.encode()),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _drop(self, scope: Scope) -> None:
        """Close the client's connection without an answer."""
        client = tuple(scope.get("client") or ())
        for connection in list(self.emulator.connections() if self.emulator.connections else ()):
            if getattr(connection, "client", None) == client and connection.transport is not None:
                connection.transport.abort()
                # Let the server see the disconnect before we return, so it sends nothing.
                for _ in range(3):
                    await asyncio.sleep(0)
                return
        raise RuntimeError("fault injection: dropped connection")  # fallback: the server answers 500


async def _send_bce_error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    body = bce_error_body(code, message, request_id)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- OOS endpoints ------------------------------------------------------------------------------
async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError as error:
        raise ApiError(400, f"request body is not valid JSON: {error}") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return value


def _validated(raw: Any) -> dict[str, Any]:
    try:
        return normalize_template(raw)
    except TemplateInvalid as error:
        raise ApiError(400, str(error)) from None


def _paging(body: dict[str, Any]) -> tuple[int, int, str, bool]:
    page_no = body.get("pageNo", 1)
    page_size = body.get("pageSize", 10)
    sort = body.get("sort") or "createTime"
    ascending = body.get("ascending", False)
    if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 1:
        raise ApiError(400, f"pageNo must be an integer >= 1, got {page_no!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise ApiError(400, f"pageSize must be an integer from 1 to 100, got {page_size!r}")
    if sort not in _SORT_FIELDS:
        raise ApiError(400, f"sort must be one of {list(_SORT_FIELDS)}, got {sort!r}")
    if not isinstance(ascending, bool):
        raise ApiError(400, "ascending must be true or false")
    return page_no, page_size, sort, ascending


def _page(
    items: list[Any], key: str, page_no: int, page_size: int, sort: str, ascending: bool
) -> dict[str, Any]:
    start = (page_no - 1) * page_size
    return {
        key: items[start : start + page_size],
        "orderBy": sort,
        "order": "asc" if ascending else "desc",
        "pageNo": page_no,
        "pageSize": page_size,
        "totalCount": len(items),
    }


def oos_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix=OOS_PREFIX)
    store = emulator.store

    def name_taken(name: str, except_id: str | None = None) -> bool:
        found = store.template_by_name(name)
        return found is not None and found.body["id"] != except_id

    @router.post("/v2/template")
    async def create_template(request: Request) -> Response:
        snapshot = _validated(await _json_body(request))
        if snapshot["type"] != "INDIVIDUAL":
            raise ApiError(400, "template.type: only INDIVIDUAL templates can be created")
        with store.lock:
            if name_taken(snapshot["name"]):
                raise ApiError(400, f"template name {snapshot['name']!r} already exists")
            snapshot = {"id": random_id("tpl-", 8), **{k: v for k, v in snapshot.items() if k != "id"}}
            store.put_template(snapshot)
        return envelope({"id": snapshot["id"]})

    @router.post("/v2/template/check")
    async def check_template(request: Request) -> Response:
        try:
            normalize_template(await _json_body(request))
        except TemplateInvalid as error:
            return envelope({"isValid": False, "reason": str(error)})
        return envelope({"isValid": True, "reason": ""})

    @router.put("/v2/template")
    async def update_template(request: Request) -> Response:
        body = _object(await _json_body(request), "template")
        template_id = body.get("id")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(400, "template.id is required to update a template")
        snapshot = _validated(body)
        with store.lock:
            current = store.templates.get(template_id)
            if current is None:
                raise ApiError(404, f"template {template_id} not found")
            if name_taken(snapshot["name"], except_id=template_id):
                raise ApiError(400, f"template name {snapshot['name']!r} already exists")
            snapshot["type"] = current.body.get("type", "INDIVIDUAL")
            store.put_template(snapshot)
        return envelope(None)

    @router.delete("/v2/template")
    async def delete_template(request: Request) -> Response:
        template_id = request.query_params.get("id")
        if not template_id:
            raise ApiError(400, "query parameter id (the template id) is required")
        with store.lock:
            if template_id not in store.templates:
                raise ApiError(404, f"template {template_id} not found")
            store.delete_template(template_id)
        return envelope(None)

    @router.get("/v2/template")
    async def get_template(request: Request) -> Response:
        name = request.query_params.get("name")
        template_type = request.query_params.get("type") or "INDIVIDUAL"
        if not name:
            raise ApiError(400, "query parameter name (the template name) is required")
        found = store.template_by_name(name, template_type)
        if found is None:
            raise ApiError(404, f"template {name!r} of type {template_type} not found")
        return envelope(found.body)

    @router.post("/v2/template/list")
    async def list_templates(request: Request) -> Response:
        body = _object(await _json_body(request), "request body")
        page_no, page_size, sort, ascending = _paging(body)
        name = body.get("name")
        template_type = body.get("type")
        with store.lock:
            records = [
                t
                for t in store.templates.values()
                if (not name or name in t.body["name"])
                and (not template_type or t.body.get("type", "INDIVIDUAL") == template_type)
            ]
            if sort == "name":
                records.sort(key=lambda t: t.body["name"], reverse=not ascending)
            else:
                records.sort(
                    key=lambda t: t.created if sort == "createTime" else t.updated, reverse=not ascending
                )
            items = [copy.deepcopy(t.body) for t in records]
        return envelope(_page(items, "templates", page_no, page_size, sort, ascending))

    @router.post("/v1/operator/list")
    async def list_operators(request: Request) -> Response:
        body = _object(await _json_body(request), "request body")
        page_no, page_size, sort, ascending = _paging(body)
        items = [
            {"name": action, "operator": action, "description": description}
            for action, description in sorted(actions.ACTION_DESCRIPTIONS.items(), reverse=not ascending)
        ]
        return envelope(_page(items, "operators", page_no, page_size, sort, ascending))

    @router.post("/v2/execution")
    async def create_execution(request: Request) -> Response:
        store.bump("createExecutionCalls")
        body = _object(await _json_body(request), "request body")
        template = _object(body.get("template"), "template")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise ApiError(400, "properties must be a JSON object of parameter values")
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, dict) and "key" in t for t in tags):
            raise ApiError(400, 'tags must be a list of {"key": …, "value": …} objects')
        with store.lock:
            if template.get("ref"):
                stored = store.templates.get(template["ref"])
                if stored is None:
                    raise ApiError(404, f"template.ref: template {template['ref']} not found")
                snapshot = copy.deepcopy(stored.body)
            else:
                snapshot = _validated(template)
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
            store.save_execution(ExecutionRecord(execution, runtime))
        emulator.engine.poke(execution["id"])
        return envelope({"id": execution["id"]})

    return router


# --- admin API ----------------------------------------------------------------------------------
def admin_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix="/emulator")
    store = emulator.store
    engine = emulator.engine

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        emulator.reset()
        return {"reset": True}

    @router.get("/instances")
    async def list_instances() -> dict[str, Any]:
        with store.lock:
            return {"instances": sorted(store.instances.values(), key=lambda i: str(i["instanceId"]))}

    @router.post("/instances")
    async def seed_instances(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        ids = body.get("instanceIds") if isinstance(body, dict) else None
        status = body.get("status", "Running") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ApiError(400, 'instanceIds must be a list of instance ids, e.g. ["i-a", "i-b"]')
        if status not in ("Running", "Stopped"):
            raise ApiError(400, "status must be Running or Stopped")
        store.put_instances(ids, status)
        return await list_instances()

    @router.get("/executions")
    async def list_executions() -> dict[str, Any]:
        with store.lock:
            return {
                "executions": [
                    {
                        "id": r.body["id"],
                        "state": r.body["state"],
                        "createdTimestamp": r.body["createdTimestamp"],
                        "templateName": r.body["template"].get("name"),
                        "tasks": {t["operator"]["name"]: t["state"] for t in r.body["tasks"]},
                        "pausedBecause": (
                            r.runtime.get("pauseMessage") if r.body["state"] == "PAUSED" else None
                        ),
                    }
                    for r in store.executions.values()
                ]
            }

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return {
            "createExecutionCalls": store.counters.get("createExecutionCalls", 0),
            "requests": dict(emulator.requests),
        }

    @router.post("/executions/{execution_id}/{action}")
    async def control(execution_id: str, action: str, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        try:
            if action == "pause":
                return engine.pause(execution_id)
            if action == "resume":
                return engine.resume(execution_id)
            if action == "cancel":
                return engine.cancel(execution_id)
            if action == "approve":
                step = body.get("step") if isinstance(body, dict) else None
                return engine.approve(execution_id, step)
        except KeyError:
            raise ApiError(404, f"execution {execution_id} not found") from None
        except EngineError as error:
            raise ApiError(409, str(error)) from None
        raise ApiError(404, f"unknown action {action!r}; use pause, resume, cancel or approve")

    @router.get("/faults")
    async def list_faults() -> dict[str, Any]:
        return {"faults": emulator.faults.rules()}

    @router.post("/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            rule = FaultRule.from_json(await _json_body(request))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        emulator.faults.set(rule)
        return await list_faults()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        emulator.faults.clear()
        return await list_faults()

    return router


def create_app(emulator: Emulator) -> AsgiApp:
    """The ASGI app: the gateway in front of FastAPI. Starts/stops the engine with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        emulator.engine.start()
        try:
            yield
        finally:
            emulator.engine.stop()
            emulator.store.close()

    api = FastAPI(title="OOS emulator", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @api.exception_handler(ApiError)
    async def business_error(request: Request, error: ApiError) -> Response:
        body = {"success": False, "msg": error.message, "code": error.status, "result": None}
        return JSONResponse(body, status_code=error.status, media_type=JSON_TYPE)

    @api.exception_handler(StarletteHTTPException)
    async def no_such_api(request: Request, error: StarletteHTTPException) -> Response:
        """Unknown path or method: the same envelope as every other OOS error."""
        message = f"{request.method} {request.url.path}: {error.detail}"
        return await business_error(request, ApiError(error.status_code, message))

    api.include_router(oos_router(emulator))
    api.include_router(admin_router(emulator))
    return Gateway(api, emulator)
