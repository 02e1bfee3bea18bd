"""`python -m scripts.deploy start|stop|status` (what `make airflow` / `make airflow-stop` run).

`start` builds a fresh deployment under `.airflow/deploy/` (a running one is stopped first),
waits until every component is healthy and the example DAGs are loaded, prints the URL, the
login and how to stop it, and returns while everything keeps running in the background.
`start --executor celery` (`make airflow EXECUTOR=celery`) runs the CeleryExecutor instead of the
LocalExecutor: Redis as the broker and two Celery workers besides the same components.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from scripts.deploy import postgres
from scripts.deploy.celery_workers import live_workers, redis_server, start_redis, wait_for_workers
from scripts.deploy.config import (
    AIRFLOW_HOME,
    DEPLOY_DIR,
    EXAMPLE_INSTANCES,
    EXECUTORS,
    LOG_DIR,
    PASSWORD,
    PREFERRED_PORTS,
    USERNAME,
    State,
    airflow_cfg,
    connection,
    free_port,
    new_secrets,
)
from scripts.deploy.services import (
    airflow_services,
    api,
    api_token,
    health,
    is_alive,
    run_airflow,
    start_airflow_service,
    start_emulator,
    stop_all,
    wait_for,
    write_json,
)

START_TIMEOUT = 300


def say(message: str) -> None:
    print(f"[airflow] {message}", flush=True)


def stop() -> int:
    state = State.load()
    if state is None:
        say("nothing to stop (no .airflow/deploy/state.json)")
        return 0
    killed = stop_all(state.pids)
    if state.postgres_dir:
        postgres.stop(Path(state.postgres_dir))
    if killed:
        say(f"killed after the grace period: {', '.join(killed)}")
    state.pids = {}
    state.save()
    say(f"stopped; logs kept in {LOG_DIR}")
    return 0


def status() -> int:
    state = State.load()
    if state is None or not state.pids:
        say("not running")
        return 1
    for name, pid in state.pids.items():
        say(f"{name:<14} pid {pid:<8} {'running' if is_alive(pid) else 'DEAD'}")
    try:
        say(f"health: {health(state)}")
    except Exception as error:
        say(f"health: unreachable ({error})")
    if state.workers:
        try:
            say(f"Celery workers answering: {', '.join(live_workers(state)) or 'none'}")
        except Exception as error:
            say(f"Celery workers: broker unreachable ({error})")
    print_access(state)
    return 0 if all(is_alive(pid) for pid in state.pids.values()) else 1


def start(executor: str = "local") -> int:
    started = time.monotonic()
    use_postgres = postgres.bin_dir() is not None
    if executor == "celery":  # checked before anything is stopped or started
        if not use_postgres:
            raise SystemExit(
                "EXECUTOR=celery needs PostgreSQL (Airflow refuses SQLite with the CeleryExecutor): "
                "install Debian's postgresql package, or run `make airflow` without EXECUTOR"
            )
        redis_server()
    previous = State.load()
    if previous is not None and previous.pids:
        say("stopping the previous deployment first")
        stop()
    shutil.rmtree(DEPLOY_DIR, ignore_errors=True)
    AIRFLOW_HOME.mkdir(parents=True)
    (DEPLOY_DIR / "failover_dags").mkdir()  # the second DAG bundle (`make failover` fills it)
    state = State(
        api_port=free_port(PREFERRED_PORTS["api"]),
        emulator_port=free_port(PREFERRED_PORTS["emulator"]),
        database="postgresql" if use_postgres else "sqlite",
        postgres_port=free_port(PREFERRED_PORTS["postgres"]) if use_postgres else None,
        postgres_dir=str(postgres.choose_root()) if use_postgres else None,
        executor=executor,
        redis_port=free_port() if executor == "celery" else None,
        log_ports={"worker": free_port(), "triggerer": free_port(), "triggerer-2": free_port()},
        secrets=new_secrets(),
    )
    state.log_ports |= {name: free_port() for name in state.workers}
    state.save()
    try:
        boot(state)
    except BaseException:
        say(f"start failed; stopping what was started (logs in {LOG_DIR})")
        state.save()
        stop()
        raise
    say(f"ready in {time.monotonic() - started:.0f} s")
    print_access(state)
    return 0


def boot(state: State) -> None:
    say(f"OOS emulator on {state.emulator_url} ({len(EXAMPLE_INSTANCES)} examples' instances seeded)")
    state.pids["emulator"] = start_emulator(state)
    state.save()
    if state.database == "postgresql":
        say(f"PostgreSQL on 127.0.0.1:{state.postgres_port} (cluster in {state.postgres_dir})")
        postgres.start(Path(state.postgres_dir or ""), state.postgres_port or 0)
    else:
        say("no PostgreSQL server binaries found: using SQLite")
    if state.executor == "celery":
        say(f"Redis (the Celery broker) on 127.0.0.1:{state.redis_port}")
        state.pids["redis"] = start_redis(state)
        state.save()
    (AIRFLOW_HOME / "airflow.cfg").write_text(airflow_cfg(state))
    write_json(AIRFLOW_HOME / "passwords.json", {USERNAME: PASSWORD})
    say("airflow db migrate ...")
    run_airflow(state, ["db", "migrate"], "db-migrate")
    run_airflow(
        state,
        ["connections", "add", "oos_default", "--conn-json", json.dumps(connection(state))],
        "connections",
    )
    services = airflow_services(state)
    for name in services:
        state.pids[name] = start_airflow_service(name, state)
        state.save()
    say(f"started {', '.join(services)}; waiting until all are healthy ...")
    wait_healthy(state)
    if state.workers:
        say(f"Celery workers answering: {', '.join(wait_for_workers(state, START_TIMEOUT))}")
    wait_for_dags(state)


def wait_healthy(state: State) -> None:
    def healthy() -> bool:
        for name, pid in state.pids.items():
            if not is_alive(pid):
                raise RuntimeError(f"{name} exited; see {LOG_DIR / (name + '.log')}")
        parts = health(state)
        return bool(parts) and all(value == "healthy" for value in parts.values())

    wait_for(healthy, START_TIMEOUT, "the deployment", log="api-server")


def wait_for_dags(state: State) -> None:
    token = api_token(state)

    def loaded() -> bool:
        dags = api(state, "GET", "dags", token)["dags"]
        return {dag["dag_id"] for dag in dags} >= set(EXAMPLE_INSTANCES)

    wait_for(loaded, START_TIMEOUT, "the example DAGs", log="dag-processor")
    errors = api(state, "GET", "importErrors", token)
    if errors.get("total_entries"):
        raise RuntimeError(f"example DAGs have import errors: {errors['import_errors']}")


def print_access(state: State) -> None:
    components = "api-server, scheduler, dag-processor, 2 triggerers"
    if state.workers:
        components += f", Celery workers {' and '.join(state.workers)}, Redis on :{state.redis_port}"
    print(
        f"""
  Airflow UI      {state.api_url}   (login {USERNAME} / {PASSWORD})
  OOS emulator    {state.emulator_url}   (executions: {state.emulator_url}/console/execution/<id>)
  executor        {EXECUTORS[state.executor]}; database {state.database}
  components      {components}
  connection      oos_default -> the emulator; example DAGs from example_dags/
  logs            {LOG_DIR}
  stop it with    make airflow-stop
""",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.deploy", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument(
        "--executor",
        choices=sorted(EXECUTORS),
        default="local",
        help="start: the Airflow executor (`make airflow EXECUTOR=celery`; default local)",
    )
    args = parser.parse_args()
    if args.command == "start":
        return start(args.executor)
    return {"stop": stop, "status": status}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
