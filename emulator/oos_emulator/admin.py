"""The emulator's admin API under `/emulator/` (no signature): state, stats, actions and faults.

Not part of OOS: tests, demos and people use it to seed instances, see what the emulator did,
act as the person in front of the console (pause, resume, cancel, approve) and inject faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from oos_emulator.api import ApiError, json_body
from oos_emulator.engine import EngineError
from oos_emulator.faults import FaultRule

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
