"""`make failover`: N deferred waits over the deployment's two triggerers; one triggerer SIGKILLed.

Against the running `make airflow` deployment:
1. write the `oos_failover` DAG (scripts/deploy/failover_dag.py, N mapped deferrable tasks) into
   the deployment's second DAG bundle and trigger one run with no logical date;
2. once every task has deferred, note how the triggers are spread over the two triggerers and
   SIGKILL triggerer-1 (its whole process group, as a crashed host would lose it);
3. wait for the surviving triggerer to take the orphaned triggers and for the run to finish;
4. check every task against OOS: exactly one execution per task (the emulator's record), and the
   task's state is the execution's true final state (SUCCESS -> success, FAILED -> failed);
5. start a new triggerer-1, write the figures into RELIABILITY.md, exit 0 only if all held.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from sqlalchemy import create_engine, text

from scripts.deploy.config import DEPLOY_DIR, REPO, State
from scripts.deploy.services import api, api_token, is_alive, kill_group, start_airflow_service

FAILOVER_DAGS = DEPLOY_DIR / "failover_dags"
DAG_ID = "oos_failover"
FIGURES_FILE = DEPLOY_DIR / "failover.json"
RELIABILITY = REPO / "RELIABILITY.md"
START = "<!-- failover-figures:start (written by `make failover`: scripts/deploy/failover.py) -->"
END = "<!-- failover-figures:end -->"
TRUE_STATE = {"SUCCESS": "success", "FAILED": "failed"}


def say(message: str) -> None:
    print(f"[failover] {time.strftime('%H:%M:%S')} {message}", flush=True)


class Deployment:
    """REST, SQL and emulator access to the running deployment."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.token = api_token(state)
        self.engine = create_engine(state.sql_alchemy_conn)

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        return api(self.state, method, path, self.token, **kwargs)

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.state.emulator_url}/emulator/{path}"
        response = requests.request(method, url, json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> dict[int, dict[str, Any]]:
        """Map index -> task instance, page by page (the API answers at most 100 a page)."""
        found: dict[int, dict[str, Any]] = {}
        path = f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        while True:
            page = self.rest("GET", path, params={"limit": 100, "offset": len(found)})
            found.update({ti["map_index"]: ti for ti in page["task_instances"]})
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[int, str | None]:
        """Map index -> state."""
        return {index: ti["state"] for index, ti in self.task_instances(run_id, dag_id).items()}

    def trigger_spread(self, run_id: str) -> Counter[int | None]:
        """Triggerer job id -> triggers of this run it holds (None: not assigned yet)."""
        rows = self.sql(
            "SELECT t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
            "WHERE ti.dag_id = :dag AND ti.run_id = :run",
            dag=DAG_ID,
            run=run_id,
        )
        return Counter(row[0] for row in rows)

    def triggerer_heartbeats(self) -> dict[int, Any]:
        """Job id -> latest heartbeat of the triggerers alive now (a killed one stays 'running')."""
        rows = self.sql(
            "SELECT id, latest_heartbeat FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
        )
        beats = {row[0]: row[1] for row in rows if row[1] is not None}
        newest = max(beats.values(), default=None)
        return {job: beat for job, beat in beats.items() if newest and (newest - beat).total_seconds() < 30}


def write_dag(count: int, sleep: float) -> None:
    source = (REPO / "scripts" / "deploy" / "failover_dag.py").read_text()
    source = source.replace("N = 200 ", f"N = {count} ").replace("SLEEP = 1200 ", f"SLEEP = {sleep:g} ")
    FAILOVER_DAGS.mkdir(parents=True, exist_ok=True)
    (FAILOVER_DAGS / "oos_failover.py").write_text(source)


def wait(check: Any, timeout: float, what: str, every: float = 3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def run(count: int, sleep: float) -> dict[str, Any]:
    state = State.load()
    if state is None or not state.pids or not all(is_alive(pid) for pid in state.pids.values()):
        raise RuntimeError("no running deployment: start it with `make airflow`")
    deployment = Deployment(state)
    deployment.emulator("POST", "instances", {"instanceIds": ["i-failover"], "status": "Running"})
    write_dag(count, sleep)
    say(f"waiting for the DAG {DAG_ID} ({count} deferrable tasks) to be parsed ...")

    def parsed() -> bool:
        try:
            deployment.rest("GET", f"dags/{DAG_ID}")
        except RuntimeError:
            return False
        tasks = deployment.rest("GET", f"dags/{DAG_ID}/tasks")["tasks"]
        return any(task["task_id"] == "wait" for task in tasks)

    wait(parsed, 180, f"the DAG {DAG_ID}")
    creates_before = deployment.emulator("GET", "stats")["createExecutionCalls"]
    started_ms = int(time.time() * 1000)
    started = time.monotonic()
    run_id = deployment.rest("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})[
        "dag_run_id"
    ]
    say(f"triggered {run_id}; waiting until all {count} tasks have deferred ...")

    def all_deferred() -> bool:
        states = Counter(deployment.task_states(run_id).values())
        busy = sum(n for s, n in states.items() if s not in ("deferred", "success", "failed"))
        return len(states) > 0 and busy == 0 and sum(states.values()) == count

    wait(all_deferred, 1800, "every task to defer", every=5)
    deferred_after = time.monotonic() - started
    spread = deployment.trigger_spread(run_id)
    states_at_kill = Counter(deployment.task_states(run_id).values())
    say(f"all deferred after {deferred_after:.0f} s; triggers per triggerer job: {dict(spread)}")

    heartbeats = deployment.triggerer_heartbeats()
    if len(heartbeats) != 2:
        raise RuntimeError(f"expected two live triggerers, found jobs {heartbeats}")
    victim_pid = state.pids["triggerer-1"]
    kill_group(victim_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    say(f"SIGKILLed triggerer-1 (pid {victim_pid})")

    def find_dead_job() -> int | None:
        """The job whose heartbeat stopped while the other one's went on."""
        later = deployment.triggerer_heartbeats()
        dead = [job for job, beat in heartbeats.items() if later.get(job, beat) == beat]
        alive = [job for job, beat in heartbeats.items() if later.get(job, beat) != beat]
        return dead[0] if len(dead) == 1 and len(alive) == len(heartbeats) - 1 else None

    dead_job: int = wait(find_dead_job, 120, "the killed triggerer's job to miss its heartbeat", every=2)
    orphaned = spread.get(dead_job, 0)
    say(f"triggerer job {dead_job} is dead; it held {orphaned} triggers")
    wait(lambda: deployment.trigger_spread(run_id).get(dead_job, 0) == 0, 900, "the takeover", every=2)
    takeover = time.monotonic() - killed_at
    say(f"the surviving triggerer took them over after {takeover:.0f} s; waiting for the run to finish ...")

    def finished() -> str | None:
        run_state = deployment.rest("GET", f"dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")["state"]
        return run_state if run_state in ("success", "failed") else None

    run_state = wait(finished, 3600, "the run to finish", every=5)
    total = time.monotonic() - started
    state.pids["triggerer-1"] = start_airflow_service("triggerer-1", state)
    state.save()
    say("started a new triggerer-1")
    return verify(deployment, run_id, count, started_ms, creates_before) | {
        "tasks": count,
        "emulator_sleep_s": sleep,
        "run_state": run_state,
        "deferred_after_s": round(deferred_after),
        "states_at_kill": dict(states_at_kill),
        "triggers_per_triggerer_at_kill": sorted(spread.values(), reverse=True),
        "orphaned_triggers": orphaned,
        "takeover_s": round(takeover),
        "total_s": round(total),
    }


def verify(
    deployment: Deployment,
    run_id: str,
    count: int,
    started_ms: int,
    creates_before: int,
    *,
    dag_id: str = DAG_ID,
    prefix: str = "failover-",
) -> dict[str, Any]:
    """Exactly one execution per task, and each task in its execution's true final state. Task
    `i` (map index) owns the executions of template `<prefix><i + 1>`."""
    tasks = deployment.task_states(run_id, dag_id)
    executions = [
        item
        for item in deployment.emulator("GET", "executions")["executions"]
        if str(item.get("templateName", "")).startswith(prefix) and item["createdTimestamp"] >= started_ms
    ]
    by_task = Counter(int(item["templateName"].rsplit("-", 1)[1]) - 1 for item in executions)
    final = {int(item["templateName"].rsplit("-", 1)[1]) - 1: item["state"] for item in executions}
    duplicated = sorted(index for index, n in by_task.items() if n > 1)
    missing = sorted(index for index in range(count) if by_task.get(index, 0) == 0)
    wrong = sorted(
        index
        for index in range(count)
        if index not in missing and tasks.get(index) != TRUE_STATE.get(final[index])
    )
    creates = deployment.emulator("GET", "stats")["createExecutionCalls"] - creates_before
    return {
        "task_states": dict(Counter(str(s) for s in tasks.values())),
        "execution_states": dict(Counter(final.values())),
        "executions": len(executions),
        "create_calls": creates,
        "duplicated": duplicated,
        "missing": missing,
        "wrong_state": wrong,
        "passed": len(tasks) == count and not duplicated and not missing and not wrong,
    }


def write_report(figures: dict[str, Any]) -> None:
    """Replace the figures between the markers at the end of RELIABILITY.md (add them if absent)."""
    lines = [
        START,
        f"Last run: {figures.get('finished', '?')}, Airflow 3.3.2, LocalExecutor, "
        f"{figures['database']}, 2 CPUs; command `make airflow && make failover`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| deferred tasks (mapped, one OOS execution each) | {figures['tasks']} |",
        f"| all deferred after | {figures['deferred_after_s']} s |",
        f"| triggers per triggerer when one was killed | {figures['triggers_per_triggerer_at_kill']} |",
        f"| triggers orphaned by the SIGKILL | {figures['orphaned_triggers']} |",
        f"| taken over by the surviving triggerer after | {figures['takeover_s']} s |",
        f"| run finished after (from trigger) | {figures['total_s']} s |",
        f"| executions in OOS / create calls | {figures['executions']} / {figures['create_calls']} |",
        f"| execution final states | {figures['execution_states']} |",
        f"| task final states | {figures['task_states']} |",
        f"| tasks with 0 / >1 execution | {len(figures['missing'])} / {len(figures['duplicated'])} |",
        f"| tasks not in their execution's final state | {len(figures['wrong_state'])} |",
        f"| verdict | {'PASS' if figures['passed'] else 'FAIL'} |",
        END,
    ]
    report = RELIABILITY.read_text()
    block = "\n".join(lines)
    if START in report:
        head, rest = report.split(START, 1)
        report = head + block + rest.split(END, 1)[1]
    else:
        report = report.rstrip("\n") + "\n\n" + SECTION_INTRO + block + "\n"
    RELIABILITY.write_text(report)


SECTION_INTRO = """## Triggerer failover at scale (`make failover`)

`make airflow` runs two triggerers. `make failover` (against that deployment) starts one run of
`oos_failover`: 200 mapped `OosCreateExecutionOperator` tasks with `deferrable=True`, each one OOS
execution of a single long shell step (every tenth exits 1, so its true final state is FAILED).
When every task has deferred it SIGKILLs triggerer-1's whole process group, waits for the other
triggerer to take over the orphaned triggers, and lets the run finish. It passes only if each
task has exactly one execution in the emulator's record (no create was repeated by the takeover)
and ends in that execution's final state. Then it starts a new triggerer-1. The takeover takes
about `[triggerer] triggerer_health_check_threshold` (30 s): a triggerer's triggers move only once
its heartbeat is that old. Each execution runs 600 s (1,200 emulator-seconds at the deployment's
time scale 0.5), so every wait spans the kill; the run's length is mostly that.

"""


def run_cli(
    prog: str,
    doc: str | None,
    tasks: int,
    sleep: float,
    run: Callable[[int, float], dict[str, Any]],
    write_report: Callable[[dict[str, Any]], None],
    figures_file: Path,
) -> int:
    """The command line of a failover check (this one and `worker_failover`): run, keep, report."""
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--tasks", type=int, default=tasks)
    parser.add_argument("--sleep", type=float, default=sleep, help="emulator seconds each execution runs")
    parser.add_argument("--no-report", action="store_true", help="do not write RELIABILITY.md")
    args = parser.parse_args()
    figures = run(args.tasks, args.sleep)
    state = State.load()
    figures["database"] = state.database if state else "?"
    figures["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    figures_file.write_text(json.dumps(figures, indent=2) + "\n")
    say(json.dumps(figures))
    if not args.no_report:
        write_report(figures)
        say(f"figures written to {RELIABILITY}")
    say("PASS" if figures["passed"] else "FAIL")
    return 0 if figures["passed"] else 1


def main() -> int:
    return run_cli("python -m scripts.deploy.failover", __doc__, 200, 1200, run, write_report, FIGURES_FILE)


if __name__ == "__main__":
    sys.exit(main())
