"""The emulator's admin API under `/emulator/` (no signature): state, stats, actions and faults.

Not part of OOS: tests, demos and people use it to seed instances, see what the emulator did,
act as the person in front of the console (pause, resume, cancel, approve) or as OOS's own
scheduler (start a cron run) and inject faults.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from oos_emulator.api import ApiError, json_body
from oos_emulator.engine import EngineError
from oos_emulator.faults import FaultRule
from oos_emulator.routes_executions import start_execution
from oos_emulator.routes_templates import validated
from oos_emulator.templates import TemplateInvalid, execution_properties

if TYPE_CHECKING:
    from oos_emulator.state import Emulator


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
        body = await json_body(request)
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
        body = await json_body(request)
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

    @router.post("/cron-executions")
    async def start_cron_execution(request: Request) -> dict[str, Any]:
        """What OOS's own scheduler does: one run of a scheduled (cron) execution, ``trigger`` CRON.

        Body: ``cronExecutionName`` and either ``templateName`` (a stored template) or ``template``
        (inline, as create-execution takes it); optional ``properties``.
        """
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object with cronExecutionName and templateName")
        cron_name = body.get("cronExecutionName")
        if not isinstance(cron_name, str) or not cron_name:
            raise ApiError(400, "cronExecutionName must be a non-empty string, e.g. nightly-patch-cron")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise ApiError(400, "properties must be a JSON object of parameter values")
        with store.lock:
            if isinstance(body.get("template"), dict):
                snapshot = validated(body["template"])
            elif isinstance(body.get("templateName"), str):
                name = body["templateName"]
                stored = [r.body for r in store.templates.values() if r.body.get("name") == name]
                if not stored:
                    raise ApiError(404, f"templateName: no stored template named {name!r}; create it first")
                snapshot = copy.deepcopy(stored[0])
            else:
                raise ApiError(400, "give templateName (a stored template) or template (inline)")
            try:
                all_properties = execution_properties(snapshot, properties)
            except TemplateInvalid as error:
                raise ApiError(400, error.text) from None
        execution_id = start_execution(
            emulator,
            snapshot,
            properties,
            all_properties,
            trigger="CRON",
            cron_execution={"name": cron_name},
        )
        return {"id": execution_id, "trigger": "CRON", "cronExecution": {"name": cron_name}}

    @router.get("/faults")
    async def list_faults() -> dict[str, Any]:
        return {"faults": emulator.faults.rules()}

    @router.post("/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            rule = FaultRule.from_json(await json_body(request))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        emulator.faults.set(rule)
        return await list_faults()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        emulator.faults.clear()
        return await list_faults()

    return router
