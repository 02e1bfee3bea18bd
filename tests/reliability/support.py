"""Shared pieces of the reliability suite: an emulator with its whole output kept, connections
pointing at it, a minimal task context for running operators outside a scheduler, templates."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oos_emulator.pytest_plugin import EmulatorHandle

OOS_PATH = "/api/logic/oos/v2/execution"
# Recognisable secrets: the secrets tests fail if either shows up anywhere.
CANARY_SECRET_KEY = "SK-CANARY-5f3a9c1e7b2d4f60a8e1"
CANARY_SESSION_TOKEN = "STS-CANARY-9b7e3d2c1a0f4e5d6c7b"
CANARY_ACCESS_KEY = "AK-canary-visible-ok"
# Retries sized for the fault matrix: ride out 30 % errors and a restart within seconds.
FAST_RETRY_EXTRAS: dict[str, Any] = {
    "max_retries": 15,
    "retry_wait_min": 0.05,
    "retry_wait_max": 0.5,
    "timeout": 10,
}


class RecordingEmulator(EmulatorHandle):
    """The emulator fixture's handle, keeping *all* the server printed (for the secrets scan)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.full_output: list[str] = []
        self._output_lock = threading.Lock()

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._output_lock:
                self.full_output.append(line)

    def start(self) -> RecordingEmulator:
        super().start()
        with self._output_lock:
            self.full_output.extend(self._output)  # the lines read before it was ready
        return self

    def all_output(self) -> str:
        with self._output_lock:
            return "".join(self.full_output)


def connection_json(emulator: EmulatorHandle, **extras: Any) -> str:
    """`AIRFLOW_CONN_…` JSON for the emulator, with extra settings (retries, timeout, token)."""
    conn: dict[str, Any] = json.loads(emulator.conn_json)
    conn["extra"] = {**conn.get("extra", {}), **extras}
    return json.dumps(conn)


def conn_env_name(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


def set_connection(monkeypatch: Any, conn_id: str, emulator: EmulatorHandle, **extras: Any) -> None:
    monkeypatch.setenv(conn_env_name(conn_id), connection_json(emulator, **extras))


class TaskInstanceStub:
    """What the operators use of a task instance (ids and xcom_push), for runs without a scheduler.

    Everything else (operator, hook, HTTP, emulator) is real; only the scheduler is left out so
    hundreds of runs fit in seconds.
    """

    def __init__(self, task_id: str, run_id: str = "reliability", dag_id: str = "reliability") -> None:
        self.dag_id = dag_id
        self.run_id = run_id
        self.task_id = task_id
        self.map_index = -1
        self.try_number = 1
        self.stats_tags: dict[str, str] = {}  # read by Airflow 3.3's ResumableJobMixin
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON; fail here as Airflow would
        self.xcom[key] = value


def context_for(task_id: str) -> dict[str, Any]:
    ti = TaskInstanceStub(task_id)
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id}


def step_template(name: str, *, instance: str, shell_seconds: float) -> dict[str, Any]:
    """A two-step inline template: a shell step that lasts `shell_seconds` (simulated), then a
    RebootInstance on `instance` (FAILED with a reason naming it when the instance does not exist;
    a reboot leaves a running instance running, so any number of runs can share one)."""
    return {
        "name": name,
        "linear": True,
        "operators": [
            {
                "name": "work",
                "operator": "BCE::Agent::ExecuteShell",
                "properties": {"content": f"echo work\n# emulator: sleep {shell_seconds:g}\n"},
            },
            {
                "name": "reboot",
                "operator": "BCE::BCC::RebootInstance",
                "properties": {"instances": [{"instanceId": instance}]},
            },
        ],
    }


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def execution_reads(emulator: RecordingEmulator) -> int:
    """GET-execution calls the emulator has answered so far."""
    return int(emulator.admin("GET", "stats")["requests"].get("GET /api/logic/oos/v2/execution", 0))


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL a whole process group, as a worker dies: no cleanup, no on_kill."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def airflow_home_copy(tmp_path: Path, dag_id: str, dag_file: str) -> Path:
    """A private AIRFLOW_HOME: a consistent copy of the migrated metadata DB, one DAG in its folder."""
    source_home = Path(os.environ["AIRFLOW_HOME"])
    home = tmp_path / "airflow-home"
    (home / "dags").mkdir(parents=True)
    with sqlite3.connect(source_home / "airflow.db") as source, sqlite3.connect(home / "airflow.db") as copy:
        source.backup(copy)  # consistent even while other tests use the source
    (home / "dags" / f"{dag_id}.py").write_text(dag_file)
    return home


def airflow_env(home: Path, conn: str) -> dict[str, str]:
    """Everything pointed at the private home (Airflow writes a default airflow.cfg there)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_OOS_DEFAULT": conn,
    }
