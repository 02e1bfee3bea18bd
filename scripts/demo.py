"""`make demo`: run the maintenance-window example DAG against a local OOS emulator.

1. start the OOS emulator on a free port, seeded with the example instances;
2. create a throwaway AIRFLOW_HOME with SQLite and migrate it;
3. `airflow dags test example_oos_maintenance_window` (the deferrable path: the wait runs
   in an in-process triggerer);
4. print what happened in OOS: execution ids, final states, step timings;
5. stop the emulator; exit 0 only if the DAG run succeeded.

Only the standard library, requests and this package are used; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import BceAuth, BceCredentials

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_oos_maintenance_window"
INSTANCES = ["i-maint-1", "i-maint-2"]
# Demo-only credentials: the emulator accepts exactly these. Not a real key pair.
ACCESS_KEY = "demo-access-key"
SECRET_KEY = "demo-secret-key-not-real"
# A log line of our operator, sensor or trigger: `<time> [info     ] <message> [<logger>] ...`.
PROGRESS_LINE = re.compile(
    r"\] (?P<message>.+?) \[(?:[\w.]+\.)?airflow_provider_oos\.(?:operators|sensors|triggers)\."
)
DAG_TIMEOUT = 240.0


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


@contextmanager
def running_emulator() -> Iterator[str]:
    """Start the emulator CLI on a free port (real time: scale 1); yield its base URL; stop it."""
    emulator = EmulatorHandle(
        time_scale=1.0, instances=INSTANCES, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    ).start()
    try:
        yield emulator.url
    finally:
        emulator.stop()


def airflow_env(home: Path, emulator_url: str) -> dict[str, str]:
    connection = {
        "conn_type": "baidu_oos",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "host": emulator_url,
    }
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW_CONN_OOS_DEFAULT": json.dumps(connection),
            # Emulated steps take about a second: poll often so the demo stays short.
            "OOS_EXAMPLE_POLL_SECONDS": "1",
        }
    )
    return env


def airflow(args: list[str], env: dict[str, str], log: Path, timeout: float, echo: bool = False) -> int:
    """Run the Airflow CLI of this interpreter; all output goes to `log`.

    With `echo`, the provider's progress lines (state changes, steps, deferral) are shown live.
    """
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                if echo and (progress := PROGRESS_LINE.search(line)):
                    print(f"         | {progress['message']}", flush=True)
            return process.wait()
        finally:
            if process.poll() is None:  # we are being interrupted: take the run down with us
                process.kill()
                process.wait()
            if watchdog.is_alive():
                watchdog.cancel()
            else:
                out.write(f"\n[demo] killed after {timeout:.0f}s\n")


def tail(path: Path, count: int = 15) -> str:
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-count:])


def failure_excerpt(path: Path, count: int = 8) -> str:
    """The provider's error message from the run log (it names the step, reason and log tail)."""
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("airflow_provider_oos.exceptions."):
            excerpt = [line]
            # The message goes on until the next timestamped log line.
            for following in lines[index + 1 : index + count]:
                if following[:1].isdigit():
                    break
                excerpt.append(following)
            return "".join(excerpt)
    return tail(path)


def fetch_execution(emulator_url: str, execution_id: str) -> dict[str, Any]:
    """GET the execution through the (signed) OOS API, as any client would."""
    response = requests.get(
        f"{emulator_url}/api/logic/oos/v2/execution",
        params={"id": execution_id, "withLog": "true"},  # task logs only when asked
        auth=BceAuth(BceCredentials(ACCESS_KEY, SECRET_KEY)),
        timeout=10,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()["result"]
    return result


def list_executions(emulator_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{emulator_url}/emulator/executions", timeout=10)
    response.raise_for_status()
    body = response.json()
    items = body.get("executions", body) if isinstance(body, dict) else body
    return list(items)


def step_seconds(task: dict[str, Any]) -> str:
    """How long a step ran: from its first log line (it started) to its finish."""
    stamps = [epoch_ms(entry["timestamp"]) for entry in task.get("log") or [] if entry.get("timestamp")]
    # A step that never started (e.g. UPSTREAM_FAILED) has no log and no duration.
    return seconds_between(min(stamps, default=None), task.get("finishedTimestamp"))


def epoch_ms(stamp: str | int) -> int:
    """A log timestamp (a string, ISO 8601 on the emulator; older answers used epoch ms) in ms."""
    if isinstance(stamp, str) and not stamp.isdigit():
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    return int(stamp)


def seconds_between(start_ms: int | None, end_ms: int | None) -> str:
    if not start_ms or not end_ms:
        return "-"
    return f"{(end_ms - start_ms) / 1000:.1f}s"


def print_summary(emulator_url: str) -> bool:
    """Print every execution the emulator saw; True if there was one and all succeeded."""
    executions = [fetch_execution(emulator_url, item["id"]) for item in list_executions(emulator_url)]
    if not executions:
        say("the emulator saw no execution")
        return False
    for execution in executions:
        took = seconds_between(execution.get("createdTimestamp"), execution.get("finishedTimestamp"))
        tags = ", ".join(
            f"{tag.get('tagKey', tag.get('key'))}={tag.get('tagValue', tag.get('value'))}"
            for tag in execution.get("tags") or []
        )
        print(f"\n  execution {execution['id']}: {execution.get('state')} in {took}")
        print(f"  tags: {tags or '-'}")
        for task in execution.get("tasks") or []:
            operator = task.get("operator") or {}
            step, action = operator.get("name", task.get("id")), operator.get("operator", "?")
            print(f"    {step:<18} {action:<28} {task.get('state', '?'):<16} {step_seconds(task):>6}")
            if task.get("reason"):
                print(f"      reason: {task['reason']}")
    print()
    return all(execution.get("state") == "SUCCESS" for execution in executions)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally`s: emulator stopped, home kept


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="oos-demo-airflow-"))
    succeeded = False
    try:
        with running_emulator() as url:
            say(f"OOS emulator on {url}, instances {', '.join(INSTANCES)}")
            env = airflow_env(home, url)

            say(f"throwaway AIRFLOW_HOME {home}: airflow db migrate ...")
            if airflow(["db", "migrate"], env, home / "migrate.log", timeout=180) != 0:
                say(f"airflow db migrate failed:\n{tail(home / 'migrate.log')}")
                return 1

            say(f"airflow dags test {DAG_ID} (deferrable: the wait runs in the triggerer) ...")
            dag_log = home / "dags-test.log"
            code = airflow(["dags", "test", DAG_ID], env, dag_log, timeout=DAG_TIMEOUT, echo=True)
            deferred = "running trigger in line" in dag_log.read_text(errors="replace")

            all_success = print_summary(url)
            succeeded = code == 0 and all_success
            say(f"deferred to the triggerer: {'yes' if deferred else 'no'}")
            if not succeeded:
                say(f"DAG run failed (exit code {code}); full log {dag_log}:\n{failure_excerpt(dag_log)}")
    finally:
        if succeeded:
            shutil.rmtree(home, ignore_errors=True)
        else:
            say(f"kept {home} for inspection")
    say(f"{'SUCCESS' if succeeded else 'FAILED'} in {time.monotonic() - started:.0f}s")
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
