"""The BCE gateway in front of the OOS routes: request id, fault injection, bce-auth-v1 check.

A raw ASGI middleware, so that it sees every request first, exactly as it came: the signature is
checked against the path actually requested (either path style). It also serves GET execution
itself, the polling hot path, from the store's serialized answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from oos_emulator.api import (
    JSON_TYPE,
    REQUEST_ID_HEADER,
    ApiError,
    bce_error_body,
    error_envelope,
    query_flag,
)
from oos_emulator.paths import is_oos_path, operation_path
from oos_emulator.signature import AuthRejected, parse_query, verify
from oos_emulator.texts import request_locale, t

if TYPE_CHECKING:
    from oos_emulator.state import Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REFUSALS = {
    "429": (429, "TooManyRequests", "Request rate exceeded."),
    "503": (503, "ServiceUnavailable", "Service is temporarily unavailable."),
}
_AFTER_COMMIT = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503-after-commit": (503, "ServiceUnavailable", "Service is temporarily unavailable."),
}


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
        if not is_oos_path(path):
            await self.app(scope, receive, send_with_id)
            return
        method: str = scope["method"]
        self.emulator.count_request(method, path)
        fault = self.emulator.faults.decide(method, path)
        if fault and fault.latency_seconds:
            await asyncio.sleep(fault.latency_seconds)
        outcome = fault.outcome if fault else None
        if outcome in _REFUSALS:  # refused by the gateway: the call never reaches OOS
            await send_bce_error(send_with_id, *_REFUSALS[outcome], request_id)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        query = parse_query(scope["query_string"])
        try:
            verify(self.emulator.config.keys, method, path, query, headers)
        except AuthRejected as rejected:
            await send_bce_error(send_with_id, rejected.status, rejected.code, rejected.message, request_id)
            return
        delay = fault.answer_delay_seconds if fault else 0.0
        if outcome is None and not delay:
            await self._handle(scope, receive, send_with_id, query)
            return
        # The call takes effect (is committed) first; then its answer is lost, replaced or held.
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self._handle(scope, receive, keep, query)
        if delay:
            await asyncio.sleep(delay)
        if outcome in _AFTER_COMMIT:
            await send_bce_error(send_with_id, *_AFTER_COMMIT[outcome], request_id)
        elif outcome == "drop":
            await self._drop(scope)
        else:
            for message in answer:
                await send_with_id(message)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
        if scope["method"] == "GET" and operation_path(scope["path"]) == "/v2/execution":
            await self._get_execution(query, send)
        else:
            await self.app(scope, receive, send)

    async def _get_execution(self, query: dict[str, str], send: Send) -> None:
        """GET execution, served here rather than through FastAPI: polling is the hot path."""
        execution_id = query.get("id")
        locale = request_locale(query.get("locale"))
        status = 200
        try:
            with_log = query_flag(query.get("withLog"), "withLog")
        except ApiError as error:
            status, answer = error.status, error_envelope(error.status, error.text, locale)
        else:
            store = self.emulator.store
            found = store.execution_answer(execution_id, with_log, locale) if execution_id else None
            if found is None:
                status = 404 if execution_id else 400
                message = (
                    t("execution {id} not found", "执行 {id} 不存在", id=execution_id)
                    if execution_id
                    else t("query parameter id (the execution id) is required", "缺少查询参数 id（执行 ID）")
                )
                answer = error_envelope(status, message, locale)
            else:
                answer = found
        await send_body(send, status, answer)

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
        # Not found: the client has already gone (it gave up during a held answer); nothing to drop.


async def send_body(send: Send, status: int, body: bytes, content_type: str = JSON_TYPE) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_bce_error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    await send_body(send, status, bce_error_body(code, message, request_id))
