"""Helpers for the DAG-run tests: `airflow dags test` in a subprocess, and reading OOS state back.

The DAG run is a real Airflow CLI process (this interpreter's Airflow, the AIRFLOW_HOME the
Makefile sets) that reaches the emulator over HTTP, exactly as a deployment would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from airflow_provider_oos.client.auth import BceAuth, BceCredentials
from airflow_provider_oos.client.models import Execution

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
API = "/api/logic/oos"
# `dag.test()` logs this when it runs a deferred task's trigger in-process.
TRIGGER_RAN_MARKER = "running trigger in line"


@dataclass(frozen=True)
class DagTestRun:
    dag_id: str
    returncode: int
    output: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0

    @property
    def deferred(self) -> bool:
        return TRIGGER_RAN_MARKER in self.output

    def tail(self, count: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-count:])

    def explain(self) -> str:
        """For assertion messages: exit code, duration and the end of the run's output."""
        head = f"airflow dags test {self.dag_id} exited {self.returncode} after {self.seconds:.0f}s"
        return f"{head}:\n{self.tail()}"


def private_metadata_db(workdir: Path) -> dict[str, str]:
    """A copy of the SQLite metadata DB for one DAG run, so runs in parallel never wait on its lock.

    Returns the env override pointing Airflow at the copy ({} for a server database, shared as is).
    """
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    if not url.startswith("sqlite:///"):
        return {}
    source = url.removeprefix("sqlite:///").split("?", 1)[0]
    copy = workdir / "airflow.db"
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{copy}"}


def dag_test_env(conn_json: str, poll_seconds: float, workdir: Path) -> dict[str, str]:
    """The environment of a DAG run: our AIRFLOW_HOME, the example DAGs, the OOS connection."""
    if not os.environ.get("AIRFLOW_HOME"):
        raise RuntimeError(
            "AIRFLOW_HOME is not set: run the tests as the Makefile does "
            "(AIRFLOW_HOME=.airflow/3.3 .venv/bin/python -m pytest ...)."
        )
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW_CONN_OOS_DEFAULT": conn_json,
            "OOS_EXAMPLE_POLL_SECONDS": str(poll_seconds),
            **private_metadata_db(workdir),
        }
    )
    return env


class DagTestProcess:
    """`airflow dags test DAG_ID [--conf JSON]` started in the background; `wait()` gives the result.

    Its exit code is 0 only if the DAG run succeeded. Output goes to a file in `workdir`, so
    several runs at once never block on a full pipe.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        conn_json: str,
        workdir: Path,
        conf: dict[str, Any] | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.dag_id = dag_id
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "dags-test.log"
        command = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
        if conf is not None:
            command += ["--conf", json.dumps(conf)]
        env = dag_test_env(conn_json, poll_seconds, workdir)
        self.started = time.monotonic()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 420) -> DagTestRun:
        remaining = max(1.0, self.started + timeout - time.monotonic())
        try:
            code = self.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = -1
        output = self.log_path.read_text(errors="replace")
        if code == -1:
            output += f"\n[timed out after {timeout:.0f}s]"
        return DagTestRun(self.dag_id, code, output, time.monotonic() - self.started)


class OosApi:
    """Signed calls to the emulator's OOS API, to check what a DAG run left behind."""

    def __init__(self, url: str, access_key: str, secret_key: str) -> None:
        self.url = url
        self.auth = BceAuth(BceCredentials(access_key, secret_key))

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + API + path, auth=self.auth, timeout=10, **kwargs)

    def execution(self, execution_id: str) -> Execution:
        response = self.call("GET", "/v2/execution", params={"id": execution_id})
        response.raise_for_status()
        return Execution.model_validate(response.json()["result"])

    def template_exists(self, name: str) -> bool:
        response = self.call("GET", "/v2/template", params={"name": name, "type": "INDIVIDUAL"})
        body = response.json()
        return response.status_code == 200 and bool(body.get("success")) and bool(body.get("result"))
