"""Event watch across a SIGKILLed triggerer (issue 16, item 1): no duplicate DAG run, none lost.

Real processes in a private Airflow home (a copy of the migrated SQLite metadata DB): a dag-processor,
a scheduler and a triggerer run a DAG scheduled on an asset watched by `OosExecutionEventTrigger`
(``trigger="CRON"``). Cron runs are started on the emulator as OOS's own scheduler would
(`/emulator/cron-executions`) and a MANUAL execution of the same template beside them (the filter must
keep it out). The triggerer's process group is SIGKILLed (no cleanup) while idle, more cron runs end
during the downtime, then a new triggerer takes the watch over and resumes from the cursor the first
one saved in its Airflow Variable (through the triggerer's Task-SDK comms: the path under test).
Expected on both Airflow versions: exactly one asset event per cron run (the trigger's promise), none
for the MANUAL one, and each cron run consumed by exactly one DAG run. Several events may share one
DAG run (Airflow batches asset events), so the check is per execution, not a count of runs. On SQLite
Airflow's scheduler may leave events recorded while it creates a run queued until the next event of
the asset (apache/airflow#56050, #62501): one more cron run at the end lets those be consumed, and the
figures record how many waited so.
Several minutes of real Airflow: marked `reliability` (`make reliability`), figures in RELIABILITY.md.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .figures import record
from .support import RecordingEmulator, airflow_env, airflow_home_copy, connection_json, kill_group, wait_for

DAG_ID = "reliability_event_watch_restart"
TEMPLATE = "event-watch-restart"
CRON = "event-watch-restart-cron"
DAG_FILE = textwrap.dedent(
    f"""
    import pendulum
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Asset, AssetWatcher
    from airflow_provider_oos.triggers.oos import OosExecutionEventTrigger

    watched = Asset(
        name="event_watch_restart",
        uri="oos://template/{TEMPLATE}",
        watchers=[
            AssetWatcher(
                name="event_watch_restart_watch",
                trigger=OosExecutionEventTrigger("{TEMPLATE}", poll_interval=1, trigger="CRON"),
            )
        ],
    )

    with DAG(dag_id="{DAG_ID}", schedule=[watched], start_date=pendulum.datetime(2025, 1, 1), catchup=False):
        EmptyOperator(task_id="follow")  # finished by the scheduler itself: no worker needed
    """
)
# Fast heartbeats so the second triggerer takes the watch over seconds after the kill.
FAST_ENV = {
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
}

pytestmark = [pytest.mark.timeout(900), pytest.mark.reliability]


class Metadata:
    """Read-only looks at the private home's SQLite DB (what Airflow itself committed)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as connection:
            return list(connection.execute(sql, args))

    def cursor_saved(self) -> bool:
        return bool(self.rows("SELECT 1 FROM variable WHERE key LIKE 'oos_event_cursor__%'"))

    def event_ids(self) -> list[str]:
        """The execution id of each asset event the watch recorded, in order."""
        found = []
        for (extra,) in self.rows("SELECT extra FROM asset_event ORDER BY id"):
            payload = json.loads(extra or "{}").get("payload") or {}
            found.append(str(payload.get("execution_id")))
        return found

    def runs_by_execution(self) -> dict[str, list[str]]:
        """Execution id -> the DAG runs whose triggering asset events name it."""
        found: dict[str, list[str]] = {}
        for run_id, extra in self.rows(
            "SELECT r.run_id, e.extra FROM dag_run r JOIN dagrun_asset_event l ON l.dag_run_id = r.id "
            "JOIN asset_event e ON e.id = l.event_id WHERE r.dag_id = ?",
            DAG_ID,
        ):
            execution_id = (json.loads(extra or "{}").get("payload") or {}).get("execution_id")
            found.setdefault(str(execution_id), []).append(run_id)
        return found

    def dag_runs(self) -> int:
        return int(self.rows("SELECT COUNT(*) FROM dag_run WHERE dag_id = ?", DAG_ID)[0][0])


def test_triggerer_sigkilled_between_cron_runs_no_duplicate_and_none_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow

    emulator = RecordingEmulator(time_scale=0.05).start()
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(emulator))  # for the MANUAL run
    home = airflow_home_copy(tmp_path, DAG_ID, DAG_FILE)
    env = {**airflow_env(home, connection_json(emulator)), **FAST_ENV}
    db = Metadata(home / "airflow.db")
    airflow_cli = [sys.executable, "-m", "airflow"]
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                [*airflow_cli, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        processes.append(process)
        return process

    def logs() -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in tmp_path.glob("*.log")
        )

    inline = {
        "name": TEMPLATE,
        "operators": [
            {"name": "patch", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "echo patch"}}
        ],
    }

    def cron_run() -> str:
        started = emulator.admin("POST", "cron-executions", {"template": inline, "cronExecutionName": CRON})
        execution_id = str(started["id"])
        wait_for(lambda: _state(emulator, execution_id) == "SUCCESS", 60, f"cron run {execution_id} to end")
        return execution_id

    started_at = time.monotonic()
    try:
        start("dag-processor", "dag-processor")
        start("scheduler", "scheduler", "--skip-serve-logs")
        first = start("triggerer-1", "triggerer", "--skip-serve-logs")
        # The Variable appears once the real triggerer runs the watch: Variable.set went through.
        wait_for(db.cursor_saved, 240, "the first triggerer to save the watch cursor")
        before = [cron_run() for _ in range(3)]
        manual = _manual_run(emulator, inline)
        wait_for(lambda: len(db.event_ids()) >= 3, 120, "the first triggerer to announce 3 cron runs")
        time.sleep(3)  # a few idle polls: the watch is idle, its events committed
        kill_group(first)  # the triggerer dies: no cleanup, no on_kill
        during = [cron_run() for _ in range(3)]  # they end while no triggerer runs
        killed_at = time.monotonic()
        start("triggerer-2", "triggerer", "--skip-serve-logs")
        wait_for(lambda: len(db.event_ids()) >= 6, 180, "the second triggerer to announce what it missed")
        recovered = time.monotonic() - killed_at
        time.sleep(10)  # the scheduler makes its runs; any event it leaves queued waits for the next
        waited = 6 - len(db.runs_by_execution())
        after = cron_run()  # the next event of the asset
        expected = set(before + during + [after])
        wait_for(lambda: len(db.runs_by_execution()) >= 7, 120, "the scheduler to run the DAG for each event")
        time.sleep(5)  # more polls of the second watch: nothing more may come
        events, runs = db.event_ids(), db.runs_by_execution()
        assert Counter(events) == Counter(expected), f"events {events} for executions {expected}\n{logs()}"
        assert manual not in events, "the MANUAL execution passed the trigger='CRON' filter"
        assert {execution: len(run_ids) for execution, run_ids in runs.items()} == dict.fromkeys(expected, 1)
        dag_runs = db.dag_runs()
        figures = {
            f"airflow_{airflow.__version__}": (
                f"{len(expected)} cron runs (3 before the kill, 3 during the downtime, 1 after) -> "
                f"{len(events)} asset events, {dag_runs} DAG runs, each execution in exactly one; "
                f"MANUAL run filtered out; missed runs announced {recovered:.0f} s after the restart; "
                f"{waited} event(s) left queued by the scheduler until the next; "
                f"{time.monotonic() - started_at:.0f} s in all"
            )
        }
        print(figures)  # shown with -s: what RELIABILITY.md records
        record("event watch across a triggerer SIGKILL", **figures)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()}") from None
    finally:
        for process in processes:
            if process.poll() is None:
                kill_group(process)
        emulator.stop()


def _state(emulator: RecordingEmulator, execution_id: str) -> str | None:
    return next((e["state"] for e in emulator.executions() if e["id"] == execution_id), None)


def _manual_run(emulator: RecordingEmulator, inline: dict[str, Any]) -> str:
    """A MANUAL execution of the same template, through the provider's own hook (oos_default)."""
    from airflow_provider_oos.hooks.oos import OosHook

    execution_id = OosHook().create_execution(inline)
    wait_for(lambda: _state(emulator, execution_id) == "SUCCESS", 60, "the MANUAL execution to end")
    return execution_id
