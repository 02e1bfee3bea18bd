"""OOS routes for templates (create, check, update, delete, get, list) and the operator list."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oos_emulator import actions
from oos_emulator.api import (
    ApiError,
    as_object,
    envelope,
    json_body,
    page,
    page_numbers,
    sorting,
)
from oos_emulator.store import random_id
from oos_emulator.templates import TemplateInvalid, normalize_template
from oos_emulator.texts import Text, request_locale, t

if TYPE_CHECKING:
    from oos_emulator.state import Emulator

_SORT_FIELDS = ("createTime", "updateTime", "name")
# The v2 operator list also answers categories ({name, sequence}, as the generated SDK models them).
OPERATOR_CATEGORIES = {"BCE::BCC::": "BCC", "BCE::Agent::": "Cloud Assistant"}


def validated(raw: Any) -> dict[str, Any]:
    try:
        return normalize_template(raw)
    except TemplateInvalid as error:
        raise ApiError(400, error.text) from None


def _not_found(template_id: str) -> Text:
    return t("template {id} not found", "模板 {id} 不存在", id=template_id)


def _name_taken(name: str) -> Text:
    return t("template name {name!r} already exists", "模板名 {name!r} 已存在", name=name)


def template_router(emulator: Emulator, base_path: str) -> APIRouter:
    router = APIRouter(prefix=base_path)
    store = emulator.store

    def name_taken(name: str, except_id: str | None = None) -> bool:
        found = store.template_by_name(name)
        return found is not None and found.body["id"] != except_id

    @router.post("/v2/template")
    async def create_template(request: Request) -> Response:
        snapshot = validated(await json_body(request))
        if snapshot["type"] != "INDIVIDUAL":
            raise ApiError(
                400,
                t(
                    "template.type: only INDIVIDUAL templates can be created",
                    "template.type：只能创建 INDIVIDUAL 模板",
                ),
            )
        with store.lock:
            if name_taken(snapshot["name"]):
                raise ApiError(400, _name_taken(snapshot["name"]))
            snapshot = {"id": random_id("tpl-", 8), **{k: v for k, v in snapshot.items() if k != "id"}}
            store.put_template(snapshot)
        return envelope({"id": snapshot["id"]})

    @router.post("/v2/template/check")
    async def check_template(request: Request) -> Response:
        # Answered as the older SDKs read it; the generated SDK reads only the envelope.
        try:
            normalize_template(await json_body(request))
        except TemplateInvalid as error:
            locale = request_locale(request.query_params.get("locale"))
            return envelope({"isValid": False, "reason": error.text.render(locale)})
        return envelope({"isValid": True, "reason": ""})

    @router.put("/v2/template")
    async def update_template(request: Request) -> Response:
        body = as_object(await json_body(request), "template")
        template_id = body.get("id")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(400, t("template.id is required to update a template", "更新模板需要 template.id"))
        snapshot = validated(body)
        with store.lock:
            current = store.templates.get(template_id)
            if current is None:
                raise ApiError(404, _not_found(template_id))
            if name_taken(snapshot["name"], except_id=template_id):
                raise ApiError(400, _name_taken(snapshot["name"]))
            snapshot["type"] = current.body.get("type", "INDIVIDUAL")
            store.put_template(snapshot)
        return envelope(None)

    @router.delete("/v2/template")
    async def delete_template(request: Request) -> Response:
        template_id = request.query_params.get("id")
        if not template_id:
            raise ApiError(
                400, t("query parameter id (the template id) is required", "缺少查询参数 id（模板 ID）")
            )
        with store.lock:
            if template_id not in store.templates:
                raise ApiError(404, _not_found(template_id))
            store.delete_template(template_id)
        return envelope(None)

    @router.get("/v2/template")
    async def get_template(request: Request) -> Response:
        name = request.query_params.get("name")
        template_id = request.query_params.get("id")
        template_type = request.query_params.get("type") or "INDIVIDUAL"
        if template_id and not name:  # the OpenAPI metadata also finds a template by id
            by_id = store.templates.get(template_id)
            if by_id is None:
                raise ApiError(404, _not_found(template_id))
            return envelope(by_id.body)
        if not name:
            raise ApiError(
                400,
                t(
                    "query parameter name (the template name) or id is required",
                    "缺少查询参数 name（模板名）或 id",
                ),
            )
        found = store.template_by_name(name, template_type)
        if found is None:
            raise ApiError(
                404,
                t(
                    "template {name!r} of type {type} not found",
                    "类型为 {type} 的模板 {name!r} 不存在",
                    name=name,
                    type=template_type,
                ),
            )
        return envelope(found.body)

    @router.post("/v2/template/list")
    async def list_templates(request: Request) -> Response:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=False)
        sort, ascending = sorting(body, _SORT_FIELDS, "createTime")
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
        return envelope(page(items, "templates", page_no, page_size, sort, ascending))

    async def operator_page(request: Request, *, v2: bool) -> dict[str, Any]:
        body = as_object(await json_body(request), "request body")
        page_no, page_size = page_numbers(body, required=v2)
        sort, ascending = sorting(body, _SORT_FIELDS, "createTime")
        wanted = as_object(body.get("operator") or {}, "operator (the filter {name})").get("name") or ""
        if not isinstance(wanted, str):
            raise ApiError(
                400,
                t(
                    "operator.name must be a string (a keyword of the action name)",
                    "operator.name 必须是字符串（动作名的关键字）",
                ),
            )
        items = [
            {"name": action, "operator": action, "description": description}
            for action, description in sorted(actions.ACTION_DESCRIPTIONS.items(), reverse=not ascending)
            if wanted.lower() in action.lower()
        ]
        result = page(items, "operators", page_no, page_size, sort, ascending)
        if v2:
            names = dict.fromkeys(OPERATOR_CATEGORIES.values())
            result["categories"] = [{"name": name, "sequence": i + 1} for i, name in enumerate(names)]
        return result

    @router.post("/v1/operator/list")
    async def list_operators_v1(request: Request) -> Response:
        return envelope(await operator_page(request, v2=False))

    @router.post("/v2/operator/list")
    async def list_operators_v2(request: Request) -> Response:
        return envelope(await operator_page(request, v2=True))

    return router
