"""The Airflow plugin of the OOS execution view, declared in the provider info (``plugins``).

On Airflow >= 3.1 it adds a FastAPI app (mounted under ``/oos``) and an external view on every task
instance page (``destination="task_instance"``): an "OOS Execution Details" tab that frames
``oos/execution/{DAG_ID}/{RUN_ID}/{TASK_ID}/{MAP_INDEX}``, filled in by the UI. The tab tells a
task that is no OOS task apart (Airflow offers no per-operator filter for views). Where the plugin
API has no external views (Airflow 3.0), the plugin adds nothing: the provider loads, the view is
absent.

Import-cheap: the app (and the api-server modules it needs) is built on its first request, so
processes that only load plugins (scheduler, workers) never import it.
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_oos.version_compat import has_ui_plugins

URL_PREFIX = "/oos"  # where the api-server mounts the app (plugins.app.VIEW_PATH below it)
VIEW_NAME = "OOS Execution Details"  # not the "OOS Execution" console link: two names, two things
VIEW_ROUTE = "oos-execution"


class LazyViewApp:
    """An ASGI app that builds the real FastAPI app (``plugins.app.create_app``) on first use."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_provider_oos.plugins.app import create_app

                    self._app = create_app()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._get()(scope, receive, send)


EXTERNAL_VIEW: dict[str, Any] = {
    "name": VIEW_NAME,
    # Relative (no leading slash): the UI resolves it against its base URL, behind any proxy prefix.
    "href": URL_PREFIX.lstrip("/") + "/execution/{DAG_ID}/{RUN_ID}/{TASK_ID}/{MAP_INDEX}",
    "destination": "task_instance",
    "url_route": VIEW_ROUTE,
}


class OosExecutionViewPlugin(AirflowPlugin):
    """The OOS execution of a task instance, shown in its own page of the Airflow UI (Airflow >= 3.1).

    Read-only, through the task's own ``oos_conn_id``; guarded by Airflow's auth manager.
    """

    name = "oos_execution_view"
    if has_ui_plugins():
        fastapi_apps = [{"app": LazyViewApp(), "url_prefix": URL_PREFIX, "name": "OOS execution view"}]
        external_views = [EXTERNAL_VIEW]
