"""Helpers for the DAG-run tests: `airflow dags test` in a subprocess, and reading OOS state back.

The DAG run is a real Airflow CLI process (this interpreter's Airflow, the AIRFLOW_HOME the
Makefile sets) that reaches the emulator over HTTP, exactly as a deployment would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from airflow_provider_oos.auth import BceAuth, BceCredentials
from airflow_provider_oos.models import Execution

REPO = Path(__file__).resolve().parent.parent
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


def dag_test_env(conn_json: str, poll_seconds: float) -> dict[str, str]:
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
        }
    )
    return env


def run_dag_test(
    dag_id: str,
    *,
    conn_json: str,
    conf: dict[str, Any] | None = None,
    poll_seconds: float = 0.5,
    timeout: float = 150,
) -> DagTestRun:
    """`airflow dags test DAG_ID [--conf JSON]`; its exit code is 0 only if the run succeeded."""
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
    if conf is not None:
        command += ["--conf", json.dumps(conf)]
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command,
            env=dag_test_env(conn_json, poll_seconds),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.output if isinstance(expired.output, str) else (expired.output or b"").decode()
        return DagTestRun(dag_id, -1, output + f"\n[timed out after {timeout:.0f}s]", timeout)
    return DagTestRun(dag_id, completed.returncode, completed.stdout, time.monotonic() - started)


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
