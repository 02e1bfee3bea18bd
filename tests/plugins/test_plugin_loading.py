"""Airflow's plugins manager finds the view through the provider info, in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_provider_oos.get_provider_info import get_provider_info
from airflow_provider_oos.plugins.app import VIEW_PATH
from airflow_provider_oos.plugins.execution_view import EXTERNAL_VIEW, URL_PREFIX, OosExecutionViewPlugin

PROBE = """
import json, sys
from airflow import plugins_manager as pm
if hasattr(pm, "_get_ui_plugins"):  # Airflow >= 3.2
    plugins = pm._get_plugins()[0]
    views = pm._get_ui_plugins()[0]
    apps = pm.get_fastapi_plugins()[0]
else:  # Airflow 3.1
    pm.ensure_plugins_loaded()
    pm.initialize_ui_plugins()
    pm.initialize_fastapi_plugins()
    plugins, views, apps = pm.plugins, pm.external_views, pm.fastapi_apps
print(json.dumps({
    "plugins": [p.name for p in plugins],
    "views": views,
    "prefixes": [a["url_prefix"] for a in apps],
    "fastapi_imported": "airflow_provider_oos.plugins.app" in sys.modules,
}))
"""


def test_provider_info_declares_the_plugin() -> None:
    (entry,) = get_provider_info()["plugins"]
    assert entry["plugin-class"] == f"{OosExecutionViewPlugin.__module__}.{OosExecutionViewPlugin.__name__}"
    assert entry["name"] == OosExecutionViewPlugin.name


def test_href_matches_the_route() -> None:
    href = EXTERNAL_VIEW["href"]
    assert not href.startswith("/")  # relative to the UI's base URL
    expected = VIEW_PATH.replace("{dag_id}", "{DAG_ID}").replace("{run_id}", "{RUN_ID}")
    expected = expected.replace("{task_id}", "{TASK_ID}").replace("{map_index}", "{MAP_INDEX}")
    assert "/" + href == URL_PREFIX + expected


def test_plugins_manager_loads_the_view_without_building_the_app() -> None:
    env = {**os.environ, "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": "False"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert OosExecutionViewPlugin.name in found["plugins"]
    assert EXTERNAL_VIEW in found["views"]
    assert found["views"][found["views"].index(EXTERNAL_VIEW)]["destination"] == "task_instance"
    assert URL_PREFIX in found["prefixes"]
    assert found["fastapi_imported"] is False  # built on the first request only
