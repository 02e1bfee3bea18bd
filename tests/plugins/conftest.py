"""One real DAG run for the execution-view tests, and the view's app with Airflow's auth in front.

`airflow dags test` runs ``dags/oos_view_dag.py`` against the emulator (a private copy of the
metadata database, as every DAG test here); the view then reads that copy through Airflow's own
session dependency, the way the api-server would. Tokens are JWTs from the real auth manager.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle, start_emulator

from airflow_provider_oos.plugins.execution_view import URL_PREFIX, OosExecutionViewPlugin
from tests.plugins.dags.oos_view_dag import CONN_ID, DAG_ID, FAILING, SUCCEEDING
from tests.support.dag_runner import REPO, dag_test_env

DAGS = Path(__file__).parent / "dags"
# `oos_default` points nowhere: a page that used it instead of the task's own connection fails.
DEAD_CONNECTION = json.dumps(
    {"conn_type": "baidu_oos", "login": "x", "password": "dead-sk", "host": "http://127.0.0.1:9"}
)
USERS = "admin:admin,viewer:viewer,elsewhere:viewer"


@dataclass
class ViewRun:
    emulator: EmulatorHandle
    executions: dict[str, str]  # task id -> execution id, as OOS recorded them
    database_url: str
    run_id: str
    output: str


def _executions_by_task(emulator: EmulatorHandle) -> dict[str, str]:
    by_template = {SUCCEEDING["name"]: "succeed", FAILING["name"]: "fail"}
    return {
        by_template[item["templateName"]]: str(item["id"])
        for item in emulator.executions()
        if item.get("templateName") in by_template
    }


@pytest.fixture(scope="session")
def view_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewRun]:
    emulator = start_emulator(time_scale=0.05)
    try:
        emulator.seed_instances(["i-view-1"])
        workdir = tmp_path_factory.mktemp("view-run")
        env = dag_test_env(emulator.conn_json, 0.2, workdir)
        env.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                f"AIRFLOW_CONN_{CONN_ID.upper()}": emulator.conn_json,
                "AIRFLOW_CONN_OOS_DEFAULT": DEAD_CONNECTION,
            }
        )
        command = [sys.executable, "-m", "airflow", "dags", "test", DAG_ID]
        done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        output = done.stdout + done.stderr
        url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        from sqlalchemy import create_engine, text

        with create_engine(url).connect() as db:
            run_id = db.execute(text("SELECT run_id FROM dag_run WHERE dag_id = :d"), {"d": DAG_ID}).scalar()
        assert run_id, f"no DAG run recorded:\n{output[-4000:]}"
        executions = _executions_by_task(emulator)
        assert set(executions) == {"succeed", "fail"}, f"{executions}\n{output[-4000:]}"
        yield ViewRun(emulator, executions, url, str(run_id), output)
    finally:
        emulator.stop()


@dataclass
class View:
    """The view's app behind Airflow's auth manager; ``get(task_id, user=...)`` opens a page."""

    client: Any
    run: ViewRun
    tokens: dict[str, str]

    def url(self, task_id: str, map_index: str = "-1", run_id: str | None = None) -> str:
        return f"{URL_PREFIX}/execution/{DAG_ID}/{run_id or self.run.run_id}/{task_id}/{map_index}"

    def get(self, task_id: str, *, user: str | None = "admin", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.client.get(self.url(task_id, **kwargs), headers=headers)


@contextmanager
def _environment(settings: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def view(view_run: ViewRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[View]:
    """Airflow's auth manager set up as the api-server does, the plugin's app mounted as
    ``init_plugins`` mounts it, its database session on the DAG run's metadata database."""
    home = tmp_path_factory.mktemp("auth")
    settings = {
        "AIRFLOW__CORE__AUTH_MANAGER": "tests.plugins.auth_manager.DagScopedAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "view-test-jwt-secret-" + "x" * 40,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": view_run.emulator.conn_json,
        "AIRFLOW_CONN_OOS_DEFAULT": DEAD_CONNECTION,
    }
    with _environment(settings):
        from airflow.api_fastapi.app import init_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from airflow.api_fastapi.common.db.common import _get_session
        from fastapi import FastAPI
        from fastapi.testclient import TestClient
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        root = FastAPI()
        manager = init_auth_manager(root)
        entry = OosExecutionViewPlugin.fastapi_apps[0]
        real_app = entry["app"]._get()
        sessions = sessionmaker(create_engine(view_run.database_url))

        def session() -> Iterator[Any]:
            with sessions() as db:
                yield db

        real_app.dependency_overrides[_get_session] = session
        root.mount(entry["url_prefix"], entry["app"])
        tokens = {
            name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
            for name, role in (u.split(":") for u in USERS.split(","))
        }
        with TestClient(root) as client:
            yield View(client, view_run, tokens)
        real_app.dependency_overrides.clear()
