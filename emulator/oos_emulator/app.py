"""The emulator's HTTP face: the OOS routes in both path styles behind the BCE gateway, the admin
API and the console page.

`create_app` assembles the ASGI app around one `Emulator` (`state.py`): `Gateway`
(request id, faults, bce-auth-v1) in front of FastAPI, whose routers hold the business rules:
`routes_templates` and `routes_executions` (mounted at `/api/logic/oos` and at the root, the two
published path styles), `admin` (`/emulator/`) and `console` (`/console/`).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from oos_emulator.admin import admin_router
from oos_emulator.api import JSON_TYPE, ApiError
from oos_emulator.console import console_router
from oos_emulator.gateway import AsgiApp, Gateway
from oos_emulator.paths import BASE_PATHS
from oos_emulator.routes_executions import execution_router
from oos_emulator.routes_templates import template_router
from oos_emulator.state import Emulator, EmulatorConfig
from oos_emulator.texts import Text, request_locale, same, t

# Starlette's texts for an unknown path or method.
_DETAILS = {
    "Not Found": Text("接口不存在", "Not Found"),
    "Method Not Allowed": Text("不支持该请求方法", "Method Not Allowed"),
}


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
        locale = request_locale(request.query_params.get("locale"))
        body = {"success": False, "msg": error.text.render(locale), "code": error.status, "result": None}
        return JSONResponse(body, status_code=error.status, media_type=JSON_TYPE)

    @api.exception_handler(StarletteHTTPException)
    async def no_such_api(request: Request, error: StarletteHTTPException) -> Response:
        """Unknown path or method: the same envelope as every other OOS error."""
        where = f"{request.method} {request.url.path}"
        message = t(
            "{where}: {detail}",
            "{where}：{detail}",
            where=where,
            detail=_DETAILS.get(error.detail, same(str(error.detail))),
        )
        return await business_error(request, ApiError(error.status_code, message))

    for base_path in BASE_PATHS:
        api.include_router(template_router(emulator, base_path))
        api.include_router(execution_router(emulator, base_path))
    api.include_router(admin_router(emulator))
    api.include_router(console_router(emulator))
    return Gateway(api, emulator)


__all__ = ["Emulator", "EmulatorConfig", "create_app"]
