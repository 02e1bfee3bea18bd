"""Shared pieces of the emulator's OOS routes: the envelope, body, paging and flag checks."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from oos_emulator.store import dumps
from oos_emulator.texts import Text, same, t

JSON_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "x-bce-request-id"


class ApiError(Exception):
    """A business error, answered as the OOS envelope with `success=false`; `msg` in the request's
    locale (a plain `str` reads the same in both: the admin API, which is not OOS)."""

    def __init__(self, status: int, message: Text | str) -> None:
        self.text = message if isinstance(message, Text) else same(message)
        super().__init__(self.text.en)
        self.status = status


def envelope(result: Any) -> Response:
    body = {"success": True, "msg": "", "code": 200, "result": result}
    return Response(content=dumps(body).encode(), media_type=JSON_TYPE)


def error_envelope(status: int, message: Text, locale: str) -> bytes:
    return dumps({"success": False, "msg": message.render(locale), "code": status, "result": None}).encode()


def bce_error_body(code: str, message: str, request_id: str) -> bytes:
    return dumps({"code": code, "message": message, "requestId": request_id}).encode()


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError as error:
        raise ApiError(
            400, t("request body is not valid JSON: {e}", "请求体不是合法的 JSON：{e}", e=error)
        ) from None


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, t("{what} must be a JSON object", "{what} 必须是 JSON 对象", what=what))
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def page_numbers(body: dict[str, Any], *, required: bool) -> tuple[int, int]:
    """`pageNo` >= 1 and `pageSize` 1..100; the OpenAPI-only calls require both."""
    if required:
        absent = [name for name in ("pageNo", "pageSize") if body.get(name) is None]
        if absent:
            raise ApiError(
                400,
                t(
                    "{names} required: pageNo >= 1, pageSize from 1 to 100",
                    "缺少必填参数 {names}：pageNo >= 1，pageSize 取 1 到 100",
                    names=" and ".join(absent),
                ),
            )
    page_no = body.get("pageNo", 1)
    page_size = body.get("pageSize", 10)
    if not is_int(page_no) or page_no < 1:
        raise ApiError(
            400,
            t(
                "pageNo must be an integer >= 1, got {v!r}",
                "pageNo 必须是 >= 1 的整数，收到 {v!r}",
                v=page_no,
            ),
        )
    if not is_int(page_size) or not 1 <= page_size <= 100:
        raise ApiError(
            400,
            t(
                "pageSize must be an integer from 1 to 100, got {v!r}",
                "pageSize 必须是 1 到 100 的整数，收到 {v!r}",
                v=page_size,
            ),
        )
    return page_no, page_size


def sorting(body: dict[str, Any], fields: tuple[str, ...], default: str) -> tuple[str, bool]:
    sort = body.get("sort") or default
    ascending = body.get("ascending", False)
    if sort not in fields:
        raise ApiError(
            400,
            t(
                "sort must be one of {f}, got {v!r}",
                "sort 必须是 {f} 之一，收到 {v!r}",
                f=list(fields),
                v=sort,
            ),
        )
    if not isinstance(ascending, bool):
        raise ApiError(400, t("ascending must be true or false", "ascending 必须是 true 或 false"))
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
        raise ApiError(
            400,
            t(
                "query parameter {name} must be true or false, got {v!r}",
                "查询参数 {name} 必须是 true 或 false，收到 {v!r}",
                name=name,
                v=value,
            ),
        )
    return lowered == "true"
