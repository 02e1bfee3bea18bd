"""Where the local deployment lives, how it is reached, and its airflow.cfg.

Everything is under `.airflow/deploy/` (gitignored): the Airflow home, the PostgreSQL data,
the emulator's SQLite file, logs of every process and `state.json` (ports, pids, login), which
`stop`, `status`, the browser tests and the failover run read.
"""

from __future__ import annotations

import json
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO / ".airflow" / "deploy"
STATE_FILE = DEPLOY_DIR / "state.json"
AIRFLOW_HOME = DEPLOY_DIR / "home"
LOG_DIR = DEPLOY_DIR / "logs"
EXAMPLE_DAGS = REPO / "example_dags"
VENV_BIN = REPO / ".venv" / "bin"

# The simple auth manager's one user. A local, loopback-only deployment: a known login is the point.
USERNAME = "admin"
PASSWORD = "admin"

# The emulator's key pair (its defaults); the connection `oos_default` uses it.
ACCESS_KEY = "emulator-ak"
SECRET_KEY = "emulator-sk"

# Every fake BCC instance an example DAG uses by default, one set per example, so examples run
# side by side never stop each other's instances. The README's emulator command seeds the same.
EXAMPLE_INSTANCES: dict[str, list[str]] = {
    "example_oos_maintenance_window": ["i-maint-1", "i-maint-2"],
    "example_oos_chained_pipeline": ["i-pipe-1"],
    "example_oos_mapped_batches": ["i-batch-1", "i-batch-2", "i-batch-3", "i-batch-4", "i-batch-5"],
    "example_oos_template_upsert": ["i-diag-1", "i-diag-2"],
    "example_oos_weekly_window": ["i-weekly-1", "i-weekly-2"],
    "example_oos_shell": ["i-shell-1", "i-shell-2"],
    "example_oos_event_driven": ["i-event-1"],
}
ALL_INSTANCES = [instance for ids in EXAMPLE_INSTANCES.values() for instance in ids]

# Preferred ports (the README's); a taken one is replaced by a free one, shown at start.
PREFERRED_PORTS = {"api": 8080, "emulator": 8765, "postgres": 5432}
# Emulated steps take a few seconds at scale 1: fast enough for the browser tests, slow enough
# that every example really defers and logs progress.
EMULATOR_TIME_SCALE = 0.5
# Examples poll every 2 s here (15 s by default): runs finish soon after OOS does.
EXAMPLE_POLL_SECONDS = 2
# The weekly-window example waits 6 h for its window to open; here the window opens 30 s after
# the run starts, so it can be tried (and tested) in a sitting.
EXAMPLE_WINDOW_OPENS_SECONDS = 30

# `make airflow EXECUTOR=...`: the executor names the Makefile takes, and Airflow's for each.
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
# The Celery deployment's workers (`airflow celery worker`), each with its own Celery hostname
# and log server port; Redis (Debian's `redis-server`) is their broker.
CELERY_WORKERS = ["worker-1", "worker-2"]
WORKER_CONCURRENCY = 16  # task slots per worker: one worker can take all retries of the other
# A task whose worker died is failed (and retried) once its heartbeat is this old (default 300 s);
# tasks heartbeat every 5 s ([workers] min_heartbeat_interval), so 30 s is six missed beats.
TASK_HEARTBEAT_TIMEOUT_SECONDS = 30


@dataclass
class State:
    """What `start` leaves behind for `stop`, `status`, the browser tests and the failover run."""

    api_port: int
    emulator_port: int
    database: str  # "postgresql" or "sqlite"
    postgres_port: int | None = None
    postgres_dir: str | None = None
    executor: str = "local"  # a key of EXECUTORS
    redis_port: int | None = None  # the Celery broker (executor "celery" only)
    log_ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def console_url(self) -> str:
        """The emulator's page of one execution: the connection's `console_url` template."""
        return f"{self.emulator_url}/console/execution/{{execution_id}}"

    @property
    def sql_alchemy_conn(self) -> str:
        if self.database == "postgresql":
            return f"postgresql+psycopg2://airflow:airflow@127.0.0.1:{self.postgres_port}/airflow"
        return f"sqlite:///{DEPLOY_DIR / 'airflow.db'}"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def workers(self) -> list[str]:
        """The Celery workers of this deployment (none with LocalExecutor)."""
        return list(CELERY_WORKERS) if self.executor == "celery" else []

    def save(self) -> None:
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls) -> State | None:
        if not STATE_FILE.exists():
            return None
        return cls(**json.loads(STATE_FILE.read_text()))


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens there, else any free loopback port."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_secrets() -> dict[str, str]:
    """Shared by every component: the JWT secret signs the tokens tasks and the UI use; the
    Fernet key encrypts connection passwords in the database."""
    from cryptography.fernet import Fernet  # an Airflow dependency

    return {
        "jwt_secret": secrets.token_urlsafe(64),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": Fernet.generate_key().decode(),
    }


def connection(state: State) -> dict[str, Any]:
    """`oos_default`: the emulator, its keys, its console page. The port is set (see README)."""
    return {
        "conn_type": "baidu_oos",
        "host": "127.0.0.1",
        "port": state.emulator_port,
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": json.dumps({"scheme": "http", "console_url": state.console_url}),
    }


def airflow_cfg(state: State) -> str:
    """The deployment's airflow.cfg: its executor, the example DAGs, simple auth, tests enabled."""
    local_bundle = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local_bundle, "kwargs": {"path": str(EXAMPLE_DAGS)}},
        {
            "name": "oos-failover",
            "classpath": local_bundle,
            "kwargs": {"path": str(DEPLOY_DIR / "failover_dags"), "refresh_interval": 5},
        },
    ]
    settings: dict[str, dict[str, Any]] = {
        "core": {
            "dags_folder": EXAMPLE_DAGS,
            "executor": EXECUTORS[state.executor],
            "parallelism": 16 * max(1, len(state.workers)),
            "load_examples": False,
            "fernet_key": state.secrets["fernet_key"],
            # Active at once; scheduled runs are off (below): runs start when you trigger them.
            "dags_are_paused_at_creation": False,
            "execution_api_server_url": f"{state.api_url}/execution/",
            "test_connection": "Enabled",
            # Provider plugins (the OOS execution view) load only when providers are discovered eagerly.
            "lazy_discover_providers": False,
            "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "simple_auth_manager_users": f"{USERNAME}:admin",
            "simple_auth_manager_passwords_file": AIRFLOW_HOME / "passwords.json",
        },
        "database": {"sql_alchemy_conn": state.sql_alchemy_conn},
        "api": {
            "host": "127.0.0.1",
            "port": state.api_port,
            "base_url": state.api_url,
            "workers": 1,
            "secret_key": state.secrets["api_secret_key"],
            "expose_config": False,
        },
        "api_auth": {"jwt_secret": state.secrets["jwt_secret"]},
        "scheduler": {"use_job_schedule": False},
        # Two bundles: the examples, and the folder `make failover` writes its DAG into.
        "dag_processor": {"refresh_interval": 30, "dag_bundle_config_list": json.dumps(bundles)},
        "logging": {
            "base_log_folder": AIRFLOW_HOME / "logs",
            "worker_log_server_port": state.log_ports["worker"],
            "trigger_log_server_port": state.log_ports["triggerer"],
        },
        "triggerer": {"job_heartbeat_sec": 2},
    }
    if state.executor == "celery":
        settings["celery"] = {
            "broker_url": state.broker_url,
            "result_backend": f"db+{state.sql_alchemy_conn}",
            "worker_concurrency": WORKER_CONCURRENCY,
        }
        # Said explicitly (Airflow's default, which it otherwise warns about): how long Redis keeps
        # a task message a dead worker took before handing it out again.
        settings["celery_broker_transport_options"] = {"visibility_timeout": 86400}
        settings["scheduler"] |= {
            "task_instance_heartbeat_timeout": TASK_HEARTBEAT_TIMEOUT_SECONDS,
            "task_instance_heartbeat_timeout_detection_interval": 5,
        }
    lines = ["# Written by `make airflow` (scripts/deploy); rewritten at every start."]
    for section, options in settings.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"
