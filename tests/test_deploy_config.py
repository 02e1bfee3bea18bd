"""`make airflow`'s configuration (scripts/deploy), checked without starting anything.

The deployment itself is exercised by `make airflow` + `make e2e` (CI runs both); these tests keep
the pieces a reader relies on from drifting: the drivers PostgreSQL-backed Airflow 3.3 needs, the
connection the examples use, and the airflow.cfg every component reads.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import airflow

from scripts.deploy.config import (
    ALL_INSTANCES,
    EXAMPLE_DAGS,
    REPO,
    State,
    airflow_cfg,
    connection,
    new_secrets,
)
from scripts.deploy.services import AIRFLOW_SERVICES, airflow_command, airflow_services

REQUIREMENTS = REPO / "scripts" / "deploy" / "requirements.txt"


def _state(database: str = "postgresql") -> State:
    return State(
        api_port=8080,
        emulator_port=8765,
        database=database,
        postgres_port=5432 if database == "postgresql" else None,
        log_ports={"worker": 18793, "triggerer": 18794, "triggerer-2": 18795},
        secrets=new_secrets(),
    )


def _pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip()] = version.strip()
    return pins


def test_postgres_backed_airflow_gets_both_drivers_pinned() -> None:
    """Airflow 3.3 derives `postgresql+asyncpg://` from the sync URL: without asyncpg it cannot
    start on PostgreSQL (issue 11, item 8). The Makefile installs the pinned file."""
    from airflow.settings import _get_async_conn_uri_from_sync

    async_url = _get_async_conn_uri_from_sync(_state().sql_alchemy_conn)
    assert async_url.startswith("postgresql+asyncpg://")
    pins = _pins()
    assert {"asyncpg", "psycopg2-binary", "playwright"} <= pins.keys()
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pins.values()), pins
    makefile = (REPO / "Makefile").read_text()
    assert "-r $(DEPLOY_REQS)" in makefile and "DEPLOY_REQS := scripts/deploy/requirements.txt" in makefile


def test_airflow_cfg_wires_every_component_together() -> None:
    state = _state()
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(airflow_cfg(state))
    assert cfg["core"]["executor"] == "LocalExecutor"
    assert cfg["core"]["test_connection"] == "Enabled"
    assert cfg["core"]["simple_auth_manager_users"] == "admin:admin"
    assert cfg["core"]["execution_api_server_url"] == "http://127.0.0.1:8080/execution/"
    assert cfg["database"]["sql_alchemy_conn"].startswith("postgresql+psycopg2://airflow:")
    # One JWT secret and Fernet key for all: tokens signed by one component verify in another.
    assert cfg["api_auth"]["jwt_secret"] == state.secrets["jwt_secret"]
    assert len(state.secrets["jwt_secret"]) >= 64
    assert cfg["core"]["fernet_key"] == state.secrets["fernet_key"]
    bundles = {
        b["name"]: b["kwargs"]["path"] for b in json.loads(cfg["dag_processor"]["dag_bundle_config_list"])
    }
    assert bundles["dags-folder"] == str(EXAMPLE_DAGS)
    assert cfg["scheduler"]["use_job_schedule"] == "False"
    sqlite = configparser.ConfigParser(interpolation=None)
    sqlite.read_string(airflow_cfg(_state("sqlite")))
    assert sqlite["database"]["sql_alchemy_conn"].startswith("sqlite:///")


def test_oos_default_points_at_the_emulator_and_its_console_page() -> None:
    state = _state()
    conn = connection(state)
    # A port: Airflow 3.3's Test button cannot test a stored connection without one (item 1).
    assert (conn["conn_type"], conn["host"], conn["port"]) == ("baidu_oos", "127.0.0.1", 8765)
    extra = json.loads(conn["extra"])
    assert extra["console_url"] == "http://127.0.0.1:8765/console/execution/{execution_id}"
    assert extra["scheme"] == "http"


def test_every_example_instance_is_seeded_once() -> None:
    assert len(ALL_INSTANCES) == len(set(ALL_INSTANCES))
    assert all(instance.startswith("i-") for instance in ALL_INSTANCES)


def test_make_airflow_executor_celery_config() -> None:
    """`make airflow EXECUTOR=celery`: Redis on loopback as the broker, the result backend in the
    deployment's PostgreSQL, two workers with slots enough to take each other's retries, and a short
    task heartbeat timeout, so a dead worker's tasks are failed and retried within a minute."""
    state = _state()
    state.executor, state.redis_port = "celery", 6390
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(airflow_cfg(state))
    # The Celery provider is a deployment package (scripts/deploy/requirements.txt), not a test one:
    # the name is checked against it where the deployment starts (make airflow EXECUTOR=celery).
    assert cfg["core"]["executor"] == "CeleryExecutor"
    assert cfg["celery"]["broker_url"] == "redis://127.0.0.1:6390/0"
    assert cfg["celery"]["result_backend"] == "db+" + state.sql_alchemy_conn
    assert state.workers == ["worker-1", "worker-2"]
    assert int(cfg["celery"]["worker_concurrency"]) * len(state.workers) <= int(cfg["core"]["parallelism"])
    assert int(cfg["scheduler"]["task_instance_heartbeat_timeout"]) == 30
    # Both names exist in this Airflow's config reference (a misspelt key would be ignored).
    template = (Path(airflow.__file__).parent / "config_templates" / "config.yml").read_text()
    for key in ("task_instance_heartbeat_timeout:", "task_instance_heartbeat_timeout_detection_interval:"):
        assert f"    {key}" in template
    # LocalExecutor stays the default, with no Celery section.
    local = configparser.ConfigParser(interpolation=None)
    local.read_string(airflow_cfg(_state()))
    assert local["core"]["executor"] == "LocalExecutor" and "celery" not in local
    assert "task_instance_heartbeat_timeout" not in local["scheduler"]


def test_celery_workers_get_their_own_hostname_pid_file_and_log_port() -> None:
    state = _state()
    state.executor = "celery"
    assert airflow_services(state)[-2:] == ["worker-1", "worker-2"]
    assert airflow_services(_state()) == AIRFLOW_SERVICES  # no workers with LocalExecutor
    commands = [airflow_command(name) for name in state.workers]
    assert all(command[:2] == ["celery", "worker"] for command in commands)
    hostnames = [command[command.index("--celery-hostname") + 1] for command in commands]
    pid_files = [command[command.index("--pid") + 1] for command in commands]
    assert hostnames == ["worker-1@%h", "worker-2@%h"] and len(set(pid_files)) == 2


def test_celery_packages_pinned_for_the_deployment() -> None:
    pins = _pins()
    assert {"apache-airflow-providers-celery", "celery", "redis", "kombu"} <= pins.keys()
    makefile = (REPO / "Makefile").read_text()
    assert "apt-get install -y --no-install-recommends redis-server" in makefile
    assert "--executor $(EXECUTOR)" in makefile
