"""Shared pieces of the emulator's OOS routes: the envelope, body, paging and flag checks."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from oos_emulator.store import dumps

JSON_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "x-bce-request-id"


class ApiError(Exception):
    """A business error, answered as the OOS envelope with `success=false`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(result: Any) -> Response:
    body = {"success": True, "msg": "", "code": 200, "result": result}
    return Response(content=dumps(body).encode(), media_type=JSON_TYPE)


def error_envelope(status: int, message: str) -> bytes:
    return dumps({"success": False, "msg": message, "code": status, "result": None}).encode()


def bce_error_body(code: str, message: str, request_id: str) -> bytes:
    return dumps({"code": code, "message": message, "requestId": request_id}).encode()


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError as error:
        raise ApiError(400, f"request body is not valid JSON: {error}") from None


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def page_numbers(body: dict[str, Any], *, required: bool) -> tuple[int, int]:
    """`pageNo` >= 1 and `pageSize` 1..100; the OpenAPI-only calls require both."""
    if required:
        absent = [name for name in ("pageNo", "pageSize") if body.get(name) is None]
        if absent:
            raise ApiError(400, f"{' and '.join(absent)} required: pageNo >= 1, pageSize from 1 to 100")
    page_no = body.get("pageNo", 1)
    page_size = body.get("pageSize", 10)
    if not is_int(page_no) or page_no < 1:
        raise ApiError(400, f"pageNo must be an integer >= 1, got {page_no!r}")
    if not is_int(page_size) or not 1 <= page_size <= 100:
        raise ApiError(400, f"pageSize must be an integer from 1 to 100, got {page_size!r}")
    return page_no, page_size


def sorting(body: dict[str, Any], fields: tuple[str, ...], default: str) -> tuple[str, bool]:
    sort = body.get("sort") or default
    ascending = body.get("ascending", False)
    if sort not in fields:
        raise ApiError(400, f"sort must be one of {list(fields)}, got {sort!r}")
    if not isinstance(ascending, bool):
        raise ApiError(400, "ascending must be true or false")
    return sort, ascending


def page(
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


def query_flag(value: str | None, name: str) -> bool:
    """A boolean query parameter (`withLog`, `ignoreChildren`): `true`/`false`, any case; absent = false."""
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ApiError(400, f"query parameter {name} must be true or false, got {value!r}")
    return lowered == "true"
