"""The Celery part of `make airflow EXECUTOR=celery`: Redis as the broker, and the workers' roll call.

Redis is Debian's `redis-server` (the Makefile installs the package when it is missing). It runs
as a plain foreground process of ours, like every other service: no system service, no root
needed, loopback only, its data in `.airflow/deploy/redis/`. The broker's content is throwaway, so
nothing is saved to disk. The workers themselves are Airflow services (`services.airflow_command`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scripts.deploy.config import DEPLOY_DIR, State
from scripts.deploy.services import spawn, wait_for

REDIS_DIR = DEPLOY_DIR / "redis"
REDIS_PACKAGE_HINT = "install Debian's redis-server package (`apt-get install redis-server`)"


def redis_server() -> Path:
    """The redis-server binary; a clear error naming the package when it is missing."""
    found = shutil.which("redis-server", path=f"{os.environ.get('PATH', '')}:/usr/bin:/usr/sbin")
    if found is None:
        raise RuntimeError(f"EXECUTOR=celery needs Redis as the Celery broker: {REDIS_PACKAGE_HINT}")
    return Path(found)


def start_redis(state: State) -> int:
    """Start Redis on 127.0.0.1:`state.redis_port`; return its pid once it answers PING."""
    import redis  # the Celery provider's dependency (scripts/deploy/requirements.txt)

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        str(redis_server()),
        "--bind",
        "127.0.0.1",
        "--port",
        str(state.redis_port),
        "--protected-mode",
        "yes",
        "--dir",
        str(REDIS_DIR),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    pid = spawn("redis", command, {"PATH": "/usr/bin:/bin"})
    client = redis.Redis(host="127.0.0.1", port=state.redis_port or 0, socket_timeout=2)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    wait_for(answers, 30, "Redis", pid=pid, log="redis")
    return pid


def live_workers(state: State, timeout: float = 2.0) -> list[str]:
    """Celery hostnames (`worker-1@host`, ...) of the workers that answer a ping over the broker."""
    from celery import Celery  # type: ignore[import-untyped]

    app = Celery(broker=state.broker_url)
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def wait_for_workers(state: State, timeout: float) -> list[str]:
    """Wait until every worker of `state` answers; return their Celery hostnames."""
    wanted = set(state.workers)

    def all_answer() -> bool:
        return {name.split("@", 1)[0] for name in live_workers(state)} >= wanted

    wait_for(all_answer, timeout, "the Celery workers", log=state.workers[-1])
    return live_workers(state)
