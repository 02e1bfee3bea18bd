"""`make worker-failover`: N non-deferrable waits over two Celery workers; one worker SIGKILLed.

Against a running `make airflow EXECUTOR=celery` deployment:
1. write the `oos_worker_failover` DAG (scripts/deploy/worker_failover_dag.py: N mapped
   `OosCreateExecutionOperator` tasks, `deferrable=False`, two retries) into the deployment's
   second DAG bundle and trigger one run with no logical date;
2. once every task runs and has created its execution, find which worker runs each task (the
   task's pid below the worker's process) and SIGKILL worker-1 with every process below it, task
   processes included (they sit in process groups of their own), as a crashed host would;
3. the scheduler fails the killed tasks when their heartbeat is `[scheduler]
   task_instance_heartbeat_timeout` old; each retry runs on worker-2 and must reattach to the
   execution of its killed try (task_state_store on 3.3, the execution's Airflow tags otherwise);
4. check against OOS: exactly one execution per task (the emulator's record and its count of
   create calls), every task in its execution's final state, every killed task retried and no
   other task retried;
5. start a new worker-1, write the figures into RELIABILITY.md, exit 0 only if all held.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from scripts.deploy.celery_workers import wait_for_workers
from scripts.deploy.config import DEPLOY_DIR, REPO, TASK_HEARTBEAT_TIMEOUT_SECONDS, State
from scripts.deploy.failover import FAILOVER_DAGS, RELIABILITY, Deployment, run_cli, say, verify, wait
from scripts.deploy.services import descendants, is_alive, kill_tree, start_airflow_service

DAG_ID = "oos_worker_failover"
PREFIX = "wfailover-"
VICTIM, SURVIVOR = "worker-1", "worker-2"
FIGURES_FILE = DEPLOY_DIR / "worker-failover.json"
START = "<!-- worker-failover-figures:start (written by `make worker-failover`: scripts/deploy) -->"
END = "<!-- worker-failover-figures:end -->"


def write_dag(count: int, sleep: float) -> None:
    source = (REPO / "scripts" / "deploy" / "worker_failover_dag.py").read_text()
    source = source.replace("N = 16 ", f"N = {count} ").replace("SLEEP = 600 ", f"SLEEP = {sleep:g} ")
    FAILOVER_DAGS.mkdir(parents=True, exist_ok=True)
    (FAILOVER_DAGS / f"{DAG_ID}.py").write_text(source)


def owners(deployment: Deployment, run_id: str) -> dict[int, str | None]:
    """Map index -> the worker whose process tree holds the task's process (None: neither)."""
    trees = {name: set(descendants(deployment.state.pids[name])) for name in (VICTIM, SURVIVOR)}
    found: dict[int, str | None] = {}
    for index, ti in deployment.task_instances(run_id, DAG_ID).items():
        pid = ti.get("pid")
        found[index] = next((name for name, tree in trees.items() if pid in tree), None)
    return found


def run(count: int, sleep: float) -> dict[str, Any]:
    state = State.load()
    if state is None or not state.pids or not all(is_alive(pid) for pid in state.pids.values()):
        raise RuntimeError("no running deployment: start it with `make airflow EXECUTOR=celery`")
    if state.workers != [VICTIM, SURVIVOR]:
        raise RuntimeError(
            "this deployment has no Celery workers: start it with `make airflow EXECUTOR=celery`"
        )
    deployment = Deployment(state)
    deployment.emulator("POST", "instances", {"instanceIds": ["i-worker-failover"], "status": "Running"})
    write_dag(count, sleep)
    say(f"waiting for the DAG {DAG_ID} ({count} non-deferrable tasks) to be parsed ...")

    def parsed() -> bool:
        try:
            tasks = deployment.rest("GET", f"dags/{DAG_ID}/tasks")["tasks"]
        except RuntimeError:
            return False
        return any(task["task_id"] == "wait" for task in tasks)

    wait(parsed, 180, f"the DAG {DAG_ID}")
    creates_before = deployment.emulator("GET", "stats")["createExecutionCalls"]
    started_ms = int(time.time() * 1000)
    started = time.monotonic()
    run_id = deployment.rest("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})[
        "dag_run_id"
    ]
    say(f"triggered {run_id}; waiting until all {count} tasks run and have created their execution ...")

    def all_waiting() -> bool:
        states = Counter(deployment.task_states(run_id, DAG_ID).values())
        created = deployment.emulator("GET", "stats")["createExecutionCalls"] - creates_before
        return states.get("running", 0) == count and created >= count

    wait(all_waiting, 900, "every task to run", every=3)
    running_after = time.monotonic() - started
    placed = owners(deployment, run_id)
    spread = Counter(placed.values())
    say(f"all running after {running_after:.0f} s; tasks per worker: {dict(spread)}")
    if not spread.get(VICTIM) or not spread.get(SURVIVOR):
        raise RuntimeError(f"the tasks did not spread over both workers: {dict(spread)}")
    killed_tasks = sorted(index for index, name in placed.items() if name == VICTIM)

    victim_pid = state.pids[VICTIM]
    below = kill_tree(victim_pid)
    killed_at = time.monotonic()
    say(f"SIGKILLed {VICTIM} (pid {victim_pid}) and the {len(below)} processes below it")

    def retried() -> bool:
        tis = deployment.task_instances(run_id, DAG_ID)
        return all(
            tis[index]["try_number"] >= 2 and tis[index]["state"] == "running" for index in killed_tasks
        )

    wait(retried, 900, "the killed tasks to run again", every=2)
    recovered = time.monotonic() - killed_at
    on_survivor = Counter(owners(deployment, run_id)[index] for index in killed_tasks)
    say(
        f"the killed tasks run again after {recovered:.0f} s, on {dict(on_survivor)}; waiting for the run ..."
    )

    def finished() -> str | None:
        run_state = deployment.rest("GET", f"dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")["state"]
        return run_state if run_state in ("success", "failed") else None

    run_state = wait(finished, 3600, "the run to finish", every=5)
    total = time.monotonic() - started
    state.pids[VICTIM] = start_airflow_service(VICTIM, state)
    state.save()
    wait_for_workers(state, 300)
    say(f"started a new {VICTIM}")
    tries = {index: ti["try_number"] for index, ti in deployment.task_instances(run_id, DAG_ID).items()}
    figures = verify(deployment, run_id, count, started_ms, creates_before, dag_id=DAG_ID, prefix=PREFIX)
    wrong_tries = sorted(i for i, n in tries.items() if n != (2 if i in killed_tasks else 1))
    return figures | {
        "tasks": count,
        "emulator_sleep_s": sleep,
        "run_state": run_state,
        "running_after_s": round(running_after),
        "tasks_per_worker_at_kill": {str(k): v for k, v in spread.items()},
        "killed_tasks": len(killed_tasks),
        "processes_killed": len(below) + 1,
        "retried_on": {str(k): v for k, v in on_survivor.items()},
        "recovered_s": round(recovered),
        "total_s": round(total),
        "wrong_tries": wrong_tries,
        "passed": figures["passed"] and not wrong_tries and on_survivor == {SURVIVOR: len(killed_tasks)},
    }


def write_report(figures: dict[str, Any]) -> None:
    """Replace the figures between the markers in RELIABILITY.md (add the section if absent)."""
    lines = [
        START,
        f"Last run: {figures.get('finished', '?')}, Airflow 3.3.2, CeleryExecutor (2 workers, Redis), "
        f"{figures['database']}, 2 CPUs; command `make airflow EXECUTOR=celery && make worker-failover`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| non-deferrable tasks (mapped, one OOS execution each) | {figures['tasks']} |",
        f"| all running after | {figures['running_after_s']} s |",
        f"| tasks per worker when worker-1 was killed | {figures['tasks_per_worker_at_kill']} |",
        f"| tasks killed with worker-1 / processes SIGKILLed | {figures['killed_tasks']} / "
        f"{figures['processes_killed']} |",
        f"| killed tasks running again (retry) after / where | {figures['recovered_s']} s / "
        f"{figures['retried_on']} |",
        f"| run finished after (from trigger) | {figures['total_s']} s |",
        f"| executions in OOS / create calls | {figures['executions']} / {figures['create_calls']} |",
        f"| execution final states | {figures['execution_states']} |",
        f"| task final states | {figures['task_states']} |",
        f"| tasks with 0 (lost) / >1 (duplicated) execution | {len(figures['missing'])} / "
        f"{len(figures['duplicated'])} |",
        f"| tasks not in their execution's final state | {len(figures['wrong_state'])} |",
        f"| tasks with an unexpected try count | {len(figures['wrong_tries'])} |",
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


SECTION_INTRO = f"""## Celery worker failover (`make worker-failover`)

`make airflow EXECUTOR=celery` runs the CeleryExecutor with two workers. `make worker-failover`
(against that deployment) starts one run of `oos_worker_failover`: 16 mapped
`OosCreateExecutionOperator` tasks with `deferrable=False`, so each one polls its OOS execution on
the worker that runs it. When every task runs and has created its execution, it SIGKILLs worker-1
and every process below it (the task processes too), as a crashed host would. The scheduler fails
the killed tasks once their heartbeat is `[scheduler] task_instance_heartbeat_timeout` old
({TASK_HEARTBEAT_TIMEOUT_SECONDS} s in this deployment, 300 s by default), and their retries run on
worker-2. It passes only if each task has exactly one execution in the emulator's record (every
retry reattached instead of creating), each task ends in its execution's final state, each killed
task ran exactly twice and no other task was retried. Then it starts a new worker-1. Each
execution runs 300 s (600 emulator-seconds at the deployment's time scale 0.5), so every wait spans
the kill and the retry.

"""


def main() -> int:
    return run_cli(
        "python -m scripts.deploy.worker_failover", __doc__, 16, 600, run, write_report, FIGURES_FILE
    )


if __name__ == "__main__":
    sys.exit(main())
