"""The processes of the deployment: start each one detached, find them again, stop them.

Every service runs in its own session (process group) with its output in
`.airflow/deploy/logs/NAME.log`, so `stop` (or a SIGKILL in the failover run) takes down the
service together with its children (trigger runners, api workers). Task processes put themselves
in a process group of their own, so `stop` and the worker failover also kill every descendant.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from scripts.deploy.config import (
    AIRFLOW_HOME,
    ALL_INSTANCES,
    DEPLOY_DIR,
    EMULATOR_TIME_SCALE,
    EXAMPLE_POLL_SECONDS,
    EXAMPLE_WINDOW_OPENS_SECONDS,
    LOG_DIR,
    PASSWORD,
    SECRET_KEY,
    USERNAME,
    VENV_BIN,
    WORKER_CONCURRENCY,
    State,
)

# Start order; stop goes the other way round. The emulator comes first: DAG runs need it.
AIRFLOW_SERVICES = ["api-server", "scheduler", "dag-processor", "triggerer-1", "triggerer-2"]


def airflow_services(state: State) -> list[str]:
    """The Airflow processes of `state`'s deployment: the five above, then its Celery workers."""
    return [*AIRFLOW_SERVICES, *state.workers]


READY_LINE = "OOS emulator listening on "


def airflow_env(state: State, **extra: str) -> dict[str, str]:
    """Our environment without the caller's Airflow settings, pointed at the deployment's home."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "OOS_EXAMPLE_POLL_SECONDS": str(EXAMPLE_POLL_SECONDS),
            "OOS_EXAMPLE_WINDOW_OPENS_SECONDS": str(EXAMPLE_WINDOW_OPENS_SECONDS),
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def spawn(name: str, command: list[str], env: dict[str, str]) -> int:
    """Start `command` detached (own session, output to logs/NAME.log); return its pid."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=AIRFLOW_HOME,  # not the repo: `-m` would put its (moving) tree first on sys.path
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def start_emulator(state: State) -> int:
    command = [
        str(VENV_BIN / "python"),
        "-m",
        "oos_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(state.emulator_port),
        "--db",
        str(AIRFLOW_HOME.parent / "oos-emulator.db"),
        "--instances",
        ",".join(ALL_INSTANCES),
        "--time-scale",
        str(EMULATOR_TIME_SCALE),
    ]
    env = {**os.environ, "OOS_EMULATOR_SECRET_KEY": SECRET_KEY}
    pid = spawn("emulator", command, env)
    wait_for(lambda: READY_LINE in log_text("emulator"), 60, "the OOS emulator", pid=pid, log="emulator")
    return pid


def start_airflow_service(name: str, state: State) -> int:
    command = [str(VENV_BIN / "airflow"), *airflow_command(name)]
    extra: dict[str, str] = {}
    if name == "triggerer-2":
        # Both triggerers serve their logs; the second one needs its own port.
        extra["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(state.log_ports["triggerer-2"])
    if name in state.workers:  # each Celery worker serves its task logs on a port of its own
        extra["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(state.log_ports[name])
    return spawn(name, command, airflow_env(state, **extra))


def airflow_command(name: str) -> list[str]:
    if name.startswith("triggerer"):
        return ["triggerer"]
    if name.startswith("worker-"):
        # Two workers on one host: a Celery hostname and a pid file of their own.
        return [
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--pid",
            str(DEPLOY_DIR / f"{name}.pid"),
        ]
    return [name]


def run_airflow(state: State, args: list[str], log_name: str, timeout: float = 600) -> None:
    """Run one Airflow CLI command to the end (output appended to logs/LOG_NAME.log)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{log_name}.log").open("ab") as log:
        code = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=airflow_env(state),
            cwd=AIRFLOW_HOME,  # not the repo: `-m` would put its (moving) tree first on sys.path
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        ).returncode
    if code != 0:
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed ({code}):\n{tail(log_name)}")


def log_text(name: str) -> str:
    path = LOG_DIR / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def tail(name: str, count: int = 25) -> str:
    return "\n".join(log_text(name).splitlines()[-count:])


def is_alive(pid: int) -> bool:
    """True while the process runs (a zombie no one reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(
    check: Any, timeout: float, what: str, *, pid: int | None = None, log: str | None = None
) -> None:
    """Poll `check()` until true; fail early if `pid` died; the error shows the end of `log`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (requests.RequestException, OSError, ValueError):
            pass
        if pid is not None and not is_alive(pid):
            raise RuntimeError(f"{what} exited:\n{tail(log) if log else ''}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{tail(log) if log else ''}")
        time.sleep(1)


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid`'s process group and every descendant (task processes have their own group);
    returns the descendants' pids."""
    below = descendants(pid)
    kill_group(pid, signal.SIGKILL)
    for child in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)
    return below


def started_at(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): tells a pid from a later reuse of it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def stop_all(pids: dict[str, int], timeout: float = 30) -> list[str]:
    """SIGTERM every service group (reverse start order), SIGKILL what is left after `timeout`."""
    names = list(reversed(pids))
    # Noted first: once a leader is gone, its orphans hang below init and cannot be found.
    below = {name: {child: started_at(child) for child in descendants(pids[name])} for name in names}
    for name in names:
        kill_group(pids[name], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(pids[n]) for n in names):
        time.sleep(0.5)
    killed = [name for name in names if is_alive(pids[name])]
    for name in names:  # children that outlived their leader go too, in any process group
        kill_tree(pids[name])
        for child, start in below[name].items():
            if start is not None and started_at(child) == start:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(child, signal.SIGKILL)
    return killed


# --- the REST API, as a browser-less client would use it -------------------------------------------
def api_token(state: State) -> str:
    response = requests.post(
        f"{state.api_url}/auth/token", json={"username": USERNAME, "password": PASSWORD}, timeout=10
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def api(state: State, method: str, path: str, token: str, **kwargs: Any) -> Any:
    response = requests.request(
        method,
        f"{state.api_url}/api/v2/{path.lstrip('/')}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kwargs,
    )
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


def health(state: State) -> dict[str, str]:
    """Component -> status from the api-server's health endpoint."""
    body = requests.get(f"{state.api_url}/api/v2/monitor/health", timeout=10).json()
    return {name: str(part.get("status")) for name, part in body.items() if isinstance(part, dict)}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) + "\n")
