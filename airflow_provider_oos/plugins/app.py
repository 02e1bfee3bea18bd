"""The FastAPI app of the OOS execution view, mounted by Airflow's api-server under
``execution_view.URL_PREFIX``.

One read-only page per task instance: ``GET /execution/{dag_id}/{run_id}/{task_id}/{map_index}``.
Only the task instance's key comes from the request. Its connection and execution id are what the
task instance produced (``task_instance``); the execution is read once with ``withLog`` through
``OosHook.get_execution`` on that connection. Airflow's own auth guards it: no valid Airflow
token (cookie or bearer) → 401; no read access to the DAG's task instances and XComs → 403
(``get_auth_manager().is_authorized_dag`` through Airflow's security dependencies).
"""

from __future__ import annotations

import logging
from typing import Annotated

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from airflow_provider_oos.exceptions import OosError
from airflow_provider_oos.plugins.render import (
    TaskInstanceRef,
    render_execution,
    render_message,
)
from airflow_provider_oos.plugins.task_instance import find_task_instance, task_execution

log = logging.getLogger(__name__)

VIEW_PATH = "/execution/{dag_id}/{run_id}/{task_id}/{map_index}"
# What the UI leaves in the href of an unmapped task instance (it fills {MAP_INDEX} only when mapped).
MAP_INDEX_PLACEHOLDER = "{MAP_INDEX}"
# The page runs no script and loads nothing; only Airflow's own UI may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def parse_map_index(map_index: str) -> int:
    """The URL's map index: an integer >= -1, or the UI's unfilled placeholder (not mapped: -1)."""
    value = map_index
    if value in (MAP_INDEX_PLACEHOLDER, ""):
        return -1
    try:
        index = int(value)
    except ValueError:
        index = -2
    if index < -1:
        raise HTTPException(400, "map_index must be an integer >= -1 (-1: the task is not mapped).")
    return index


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _read_execution(ti: TaskInstanceRef, conn_id: str, execution_id: str) -> HTMLResponse:
    from airflow_provider_oos.hooks.oos import OosHook

    hook = OosHook(oos_conn_id=conn_id)
    try:
        execution = hook.get_execution(execution_id, with_log=True)
        console_url = hook.console_url(execution_id)
    except OosError as err:  # our messages never carry a secret
        return _page(render_message(ti, f"OOS execution {execution_id} could not be read", str(err)), 502)
    except Exception as err:  # e.g. the connection is missing: say what, never its fields
        log.warning("OOS execution view: reading %s failed: %s", execution_id, type(err).__name__)
        text = f"{type(err).__name__} reading it through connection {conn_id!r}; see the api-server log."
        return _page(render_message(ti, f"OOS execution {execution_id} could not be read", text), 502)
    finally:
        hook.close()
    return _page(render_execution(ti, execution, console_url))


def create_app() -> FastAPI:
    """The view's app (this module is imported on the first request, by ``LazyViewApp``)."""
    app = FastAPI(title="OOS execution view", docs_url=None, redoc_url=None, openapi_url=None)
    guards = [
        Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
    ]

    @app.get(VIEW_PATH, response_class=HTMLResponse, dependencies=guards)
    def execution_view(
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: Annotated[int, Depends(parse_map_index)],
        session: SessionDep,
    ) -> HTMLResponse:
        ref = TaskInstanceRef(dag_id, run_id, task_id, map_index)
        ti = find_task_instance(ref, session)
        if ti is None:
            missing = render_message(ref, "No such task instance", "Airflow has no such task instance.")
            return _page(missing, 404)
        found = task_execution(ti, session)
        session.rollback()  # no database work is held open while OOS answers
        if found.conn_id is None or found.execution_id is None:
            return _page(render_message(ref, "No OOS execution", found.problem or ""))
        return _read_execution(ref, found.conn_id, found.execution_id)

    return app
