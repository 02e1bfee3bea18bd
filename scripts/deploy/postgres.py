"""A throwaway PostgreSQL cluster for the deployment, from the server binaries on the machine.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to a system user
(`postgres` when it exists, else one created for it) and every server command runs as that
user. The cluster lives under `.airflow/deploy/postgres/` (see `choose_root`); it listens on
127.0.0.1 only and the role `airflow` logs in with a password (scram-sha-256).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.deploy.config import DEPLOY_DIR

VERSIONS = ("17", "16", "15", "14")
BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in VERSIONS] + [Path("/usr/local/bin")]
SYSTEM_USER = "postgres"
ROLE = "airflow"
ROLE_PASSWORD = "airflow"


def bin_dir() -> Path | None:
    """The first folder holding initdb, pg_ctl and postgres; None means "use SQLite"."""
    for folder in BIN_DIRS:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _run_as() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--home-dir", "/var/lib/postgresql", "--shell", "/bin/bash", SYSTEM_USER],
            check=True,
        )
    return SYSTEM_USER


def _run(command: list[str], *, user: str | None, timeout: float = 120) -> None:
    result = subprocess.run(command, user=user, capture_output=True, text=True, timeout=timeout, cwd="/")
    if result.returncode != 0:
        output = result.stdout + result.stderr
        raise RuntimeError(f"{' '.join(command[:2])} failed ({result.returncode}):\n{output}")


def choose_root() -> Path:
    """Where the cluster lives: `.airflow/deploy/postgres`, unless the server's user cannot reach
    it (a clone under a private home folder); then a folder of its own in the temp directory."""
    preferred = DEPLOY_DIR / "postgres"
    user = _run_as()
    if user is None:
        return preferred
    reachable = subprocess.run(["test", "-x", str(DEPLOY_DIR)], user=user, cwd="/").returncode == 0
    if reachable:
        return preferred
    digest = hashlib.sha256(str(DEPLOY_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"airflow-provider-oos-pg-{digest}"


def _give_to(user: str | None, *paths: Path) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start(root: Path, port: int) -> None:
    """initdb a fresh cluster under `root`, start it on 127.0.0.1:`port`, create the database."""
    folder = bin_dir()
    if folder is None:
        raise RuntimeError("no PostgreSQL server binaries found")
    user = _run_as()
    shutil.rmtree(root, ignore_errors=True)
    data_dir, socket_dir, log_file = root / "pgdata", root / "pgsock", root / "postgres.log"
    for path in (data_dir, socket_dir):
        path.mkdir(parents=True)
    data_dir.chmod(0o700)
    password_file = root / "pgpass.tmp"
    password_file.write_text(ROLE_PASSWORD + "\n")
    log_file.touch()
    _give_to(user, root, data_dir, socket_dir, password_file, log_file)
    try:
        _run(
            [
                str(folder / "initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                ROLE,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-instructions",
            ],
            user=user,
        )
    finally:
        password_file.unlink(missing_ok=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir}"
    pg_ctl = [str(folder / "pg_ctl"), "--pgdata", str(data_dir), "--log", str(log_file)]
    _run([*pg_ctl, "-o", options, "--wait", "start"], user=user)
    _create_database(port)


def _create_database(port: int) -> None:
    import psycopg2  # installed by `make airflow` (scripts/deploy/requirements.txt)

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user=ROLE, password=ROLE_PASSWORD, dbname="postgres"
            )
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE airflow")
    conn.close()


def stop(root: Path) -> None:
    """Stop the cluster under `root` if it runs (fast shutdown: sessions end, data is kept)."""
    folder = bin_dir()
    data_dir = root / "pgdata"
    if folder is None or not (data_dir / "postmaster.pid").exists():
        return
    user = _run_as()
    subprocess.run(
        [str(folder / "pg_ctl"), "--pgdata", str(data_dir), "-m", "fast", "--wait", "stop"],
        user=user,
        capture_output=True,
        timeout=60,
        cwd="/",
    )
