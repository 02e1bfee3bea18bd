"""Run the OOS emulator CLI as a subprocess and talk to its admin API (used by tests and benchmarks).

Cheap to import: no FastAPI/uvicorn, and `requests` only once the admin API is called.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any
from urllib.parse import quote

from oos_emulator import (
    CONSOLE_LINE_PREFIX,
    CONSOLE_PATH,
    DEFAULT_ACCESS_KEY,
    DEFAULT_SECRET_KEY,
    READY_LINE_PREFIX,
)

DEFAULT_TEST_TIME_SCALE = 0.02
_START_TIMEOUT_SECONDS = 60


class EmulatorHandle:
    """A running emulator process: where it is, its keys, and the admin API."""

    def __init__(
        self,
        *,
        time_scale: float = DEFAULT_TEST_TIME_SCALE,
        db_path: str | os.PathLike[str] | None = None,
        session_token: str | None = None,
        instances: list[str] | None = None,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        port: int = 0,
    ) -> None:
        self.time_scale = time_scale
        self.db_path = str(db_path) if db_path is not None else None
        self.session_token = session_token
        self.instances = list(instances or [])
        self.access_key = access_key
        self.secret_key = secret_key
        self.port = port
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._session: Any = None
        self._output: list[str] = []

    def __repr__(self) -> str:  # the secret key and token stay out of test reports
        return f"EmulatorHandle(url={self.url!r}, access_key={self.access_key!r})"

    # --- process ------------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "oos_emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--access-key",
            self.access_key,
            "--time-scale",
            str(self.time_scale),
        ]
        if self.db_path:
            cmd += ["--db", self.db_path]
        if self.instances:
            cmd += ["--instances", ",".join(self.instances)]
        return cmd

    def start(self) -> EmulatorHandle:
        """Start the CLI and wait for its ready line (at most 60 s)."""
        # The secrets travel in the environment, not on the command line (visible to `ps`).
        env = {**os.environ, "OOS_EMULATOR_SECRET_KEY": self.secret_key}
        env.pop("OOS_EMULATOR_SESSION_TOKEN", None)
        if self.session_token:
            env["OOS_EMULATOR_SESSION_TOKEN"] = self.session_token
        process = subprocess.Popen(
            self.command(),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.process = process
        ready = threading.Event()
        # One reader thread: finds the ready line, then keeps draining so the pipe never fills up.
        threading.Thread(target=self._read, args=(process, ready), daemon=True).start()
        if not ready.wait(_START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError(f"OOS emulator not ready after {_START_TIMEOUT_SECONDS} s:\n{self.output()}")
        if not self.url or process.poll() is not None:
            self.stop()
            raise RuntimeError(f"OOS emulator exited before it was ready:\n{self.output()}")
        return self

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        self.url = ""
        for line in process.stdout:
            self._output.append(line)
            del self._output[:-200]
            if not ready.is_set() and line.startswith(READY_LINE_PREFIX):
                self.url = line[len(READY_LINE_PREFIX) :].strip()
                self.port = int(self.url.rsplit(":", 1)[1])
            elif not ready.is_set() and self.url and line.startswith(CONSOLE_LINE_PREFIX):
                ready.set()  # the console line follows the ready line: both are in the output now
        ready.set()  # the process ended: wake the waiter either way

    def output(self) -> str:
        """What the server printed (for debugging a failed test)."""
        return "".join(self._output)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        process, self.process = self.process, None
        if self._session is not None:
            self._session.close()
            self._session = None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                return process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                return process.wait()
        return process.returncode

    def kill(self) -> None:
        """Stop it abruptly (SIGKILL), as a crash would."""
        self.stop(signal.SIGKILL)

    def restart(self) -> EmulatorHandle:
        """Stop and start again on the same port (and the same --db file, if any)."""
        self.stop()
        return self.start()

    # --- connection strings -------------------------------------------------------------------
    @property
    def console_url(self) -> str:
        """`http://127.0.0.1:PORT/console/execution/{execution_id}`: the emulator's execution page,
        as a connection's `console_url` template (so the "OOS Execution" link works locally)."""
        return self.url + CONSOLE_PATH

    @property
    def conn_uri(self) -> str:
        """`baidu-oos://AK:SK@127.0.0.1:PORT/?scheme=http&console_url=…` for `AIRFLOW_CONN_…`."""
        query = f"scheme=http&console_url={quote(self.console_url, safe='')}"
        if self.session_token:
            query += f"&session_token={quote(self.session_token, safe='')}"
        return (
            f"baidu-oos://{quote(self.access_key, safe='')}:{quote(self.secret_key, safe='')}"
            f"@127.0.0.1:{self.port}/?{query}"
        )

    @property
    def conn_json(self) -> str:
        """The same connection as Airflow 3 JSON."""
        conn: dict[str, Any] = {
            "conn_type": "baidu_oos",
            "login": self.access_key,
            "password": self.secret_key,
            "host": self.url,
            "extra": {"console_url": self.console_url},
        }
        if self.session_token:
            conn["extra"]["session_token"] = self.session_token
        return json.dumps(conn)

    # --- admin API ----------------------------------------------------------------------------
    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call `/emulator/<path>`; return the decoded JSON, raise on an HTTP error."""
        import requests  # cheap plugin import: only when a test uses the admin API

        if self._session is None:
            self._session = requests.Session()
        path = path if path.startswith("/emulator/") else "/emulator/" + path.lstrip("/")
        response = self._session.request(method, self.url + path, json=json, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json()

    def seed_instances(self, ids: list[str], status: str = "Running") -> Any:
        return self.admin("POST", "instances", {"instanceIds": list(ids), "status": status})

    def instance_states(self) -> dict[str, str]:
        return {i["instanceId"]: i["status"] for i in self.admin("GET", "instances")["instances"]}

    def executions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.admin("GET", "executions")["executions"]
        return result

    def create_calls(self) -> int:
        return int(self.admin("GET", "stats")["createExecutionCalls"])

    def set_faults(self, **spec: Any) -> Any:
        """e.g. `set_faults(path="/api/logic/oos/v2/execution", method="GET", error500=0.3)`."""
        return self.admin("POST", "faults", spec)

    def clear_faults(self) -> Any:
        return self.admin("DELETE", "faults")

    def reset(self) -> Any:
        return self.admin("POST", "reset")


def start_emulator(**options: Any) -> EmulatorHandle:
    return EmulatorHandle(**options).start()
