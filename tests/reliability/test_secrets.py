"""Secrets: a recognisable secret key and STS token must never show up anywhere.

The emulator runs with the canary key pair and token; the provider is driven through success,
failure, deferral, sensor pokes, auth errors, connection errors and misconfiguration. Then every
place a secret could leak is searched: captured logs (all levels, every logger) and process
output, exception text, XCom values, rendered template fields, trigger kwargs and events, the
repr/str of hooks, configs, credentials and connection-derived objects, and the emulator's own
output. The full run also runs `scripts/demo.py` with the canary secret key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .figures import record
from .support import (
    CANARY_ACCESS_KEY,
    CANARY_SECRET_KEY,
    CANARY_SESSION_TOKEN,
    FAST_RETRY_EXTRAS,
    RecordingEmulator,
    conn_env_name,
    context_for,
    step_template,
)

CANARIES = (CANARY_SECRET_KEY, CANARY_SESSION_TOKEN)
REPO = Path(__file__).resolve().parents[2]


class Everything(logging.Handler):
    """Keeps every formatted record of every logger, at every level."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not hide the raw parts
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        self.lines.append(text)


@pytest.fixture
def all_logs() -> Iterator[Everything]:
    handler = Everything()
    # Airflow's task loggers may not propagate to the root: listen on each tree top as well.
    loggers = [logging.getLogger(name) for name in ("", "airflow_provider_oos", "airflow.task", "airflow")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def canary_emulator() -> Iterator[RecordingEmulator]:
    handle = RecordingEmulator(
        access_key=CANARY_ACCESS_KEY,
        secret_key=CANARY_SECRET_KEY,
        session_token=CANARY_SESSION_TOKEN,
        time_scale=0.05,
        instances=["i-ok"],
    ).start()
    yield handle
    handle.stop()


class Evidence:
    """Everything the provider produced that a person or another system could see."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else _text(value)
        self.items.append((where, text))

    def leaks(self) -> list[str]:
        return [
            f"{where}: ...{_around(text, canary)}..."
            for where, text in self.items
            for canary in CANARIES
            if canary in text
        ]


def _text(value: Any) -> str:
    if isinstance(value, BaseException):
        parts = [repr(value), str(value), *(repr(a) for a in value.args)]
        cause = value.__cause__ or value.__context__
        if cause is not None:
            parts.append(_text(cause))
        return " | ".join(parts)
    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _around(text: str, canary: str) -> str:
    at = text.index(canary)
    return text[max(0, at - 60) : at + len(canary) + 20]


def canary_connection(emulator: RecordingEmulator, **extras: Any) -> str:
    return json.dumps(
        {
            "conn_type": "baidu_oos",
            "login": CANARY_ACCESS_KEY,
            "password": CANARY_SECRET_KEY,
            "host": emulator.url,
            "extra": {"session_token": CANARY_SESSION_TOKEN, **FAST_RETRY_EXTRAS, **extras},
        }
    )


def exercise_provider(
    emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, evidence: Evidence
) -> None:
    from airflow_provider_oos.client.auth import BceAuth
    from airflow_provider_oos.client.connection import parse_connection
    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.hooks.oos import OosAsyncHook, OosHook
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from airflow_provider_oos.sensors.oos import OosExecutionSensor

    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]

    monkeypatch.setenv(conn_env_name("oos_default"), canary_connection(emulator))

    # 1. success, sync: XCom, summary, rendered template fields
    context = context_for("ok")
    operator = OosCreateExecutionOperator(
        task_id="ok",
        template=step_template("secret-ok", instance="i-ok", shell_seconds=1),
        properties={"note": "{{ run_id }}"},
        description="run {{ run_id }}",
        poll_interval=0.1,
        deferrable=False,
    )
    operator.render_template_fields({**context, "run_id": "manual__1"})
    for field in operator.template_fields:
        evidence.add(f"rendered template field {field}", getattr(operator, field))
    summary = operator.execute(context)
    evidence.add("return value (XCom)", summary)
    evidence.add("XCom", context["ti"].xcom)
    evidence.add("repr(operator.hook)", repr(operator.hook))
    evidence.add("str(operator.hook)", str(operator.hook))
    evidence.add("repr(hook.config)", repr(operator.hook.config))
    evidence.add("str(hook.config)", str(operator.hook.config))
    evidence.add("repr(credentials)", repr(operator.hook.config.credentials))
    evidence.add("repr(session.auth)", repr(operator.hook.session.auth))
    evidence.add("repr(BceAuth)", repr(BceAuth(operator.hook.config.credentials)))
    evidence.add("vars(hook) repr", repr({k: v for k, v in vars(operator.hook).items() if k != "session"}))
    evidence.add("parse_connection repr", repr(parse_connection(operator.hook.get_connection("oos_default"))))

    # 2. failure, sync: the exception a person reads
    failing = OosCreateExecutionOperator(
        task_id="bad",
        template=step_template("secret-bad", instance="i-missing", shell_seconds=1),
        poll_interval=0.1,
        deferrable=False,
    )
    with pytest.raises(Exception) as failed:
        failing.execute(context_for("bad"))
    evidence.add("failure exception", failed.value)

    # 3. deferral: trigger kwargs (stored in the metadata DB) and the event
    deferring = OosCreateExecutionOperator(
        task_id="deferred",
        template=step_template("secret-deferred", instance="i-ok", shell_seconds=2),
        poll_interval=0.1,
        deferrable=True,
    )
    deferred_context = context_for("deferred")
    with pytest.raises(TaskDeferred) as deferral:
        deferring.execute(deferred_context)
    trigger = deferral.value.trigger
    evidence.add("trigger.serialize()", trigger.serialize())
    evidence.add("repr(trigger)", repr(trigger))

    async def wait() -> list[Any]:
        try:
            return [event async for event in trigger.run()]
        finally:
            await close_all_sessions()

    events = asyncio.run(wait())
    evidence.add("trigger events", [event.payload for event in events])
    evidence.add("execute_complete", deferring.execute_complete(deferred_context, events[0].payload))
    evidence.add("repr(async hook)", repr(OosAsyncHook()))

    # 4. sensor pokes
    sensor = OosExecutionSensor(task_id="sense", execution_id=summary["execution_id"], mode="reschedule")
    sensor_context = context_for("sense")
    evidence.add("sensor poke", sensor.poke(sensor_context).xcom_value)
    evidence.add("sensor XCom", sensor_context["ti"].xcom)

    # 5. errors that involve the credentials themselves
    for conn_id, conn in {
        # the service refuses the key pair (the emulator does not know this secret)
        "oos_wrong_secret": json.loads(canary_connection(emulator))
        | {"password": CANARY_SECRET_KEY + "-old"},
        # nothing listens there
        "oos_nowhere": json.loads(canary_connection(emulator, max_retries=0))
        | {"host": "http://127.0.0.1:9"},
        # misconfigurations whose messages quote the host or the extras
        "oos_unknown_extra": json.loads(canary_connection(emulator))
        | {"extra": {"session_token": CANARY_SESSION_TOKEN, "sk": "x"}},
        "oos_creds_in_url": json.loads(canary_connection(emulator))
        | {"host": f"http://{CANARY_ACCESS_KEY}:{CANARY_SECRET_KEY}@127.0.0.1:{emulator.port}"},
    }.items():
        monkeypatch.setenv(conn_env_name(conn_id), json.dumps(conn))
        hook = OosHook(oos_conn_id=conn_id)
        with pytest.raises(Exception) as caught:
            hook.get_execution(summary["execution_id"])
        evidence.add(f"exception ({conn_id})", caught.value)
        evidence.add(f"test_connection ({conn_id})", hook.test_connection())
        evidence.add(f"repr(hook) ({conn_id})", repr(hook))


def test_no_secret_anywhere(
    canary_emulator: RecordingEmulator,
    monkeypatch: pytest.MonkeyPatch,
    all_logs: Everything,
    capfd: pytest.CaptureFixture[str],
) -> None:
    evidence = Evidence()
    exercise_provider(canary_emulator, monkeypatch, evidence)
    out, err = capfd.readouterr()
    evidence.add("stdout", out)
    evidence.add("stderr", err)
    evidence.add("logs", "\n".join(all_logs.lines))
    evidence.add("repr(emulator handle)", repr(canary_emulator))
    canary_emulator.stop()
    evidence.add("emulator output", canary_emulator.all_output())
    # The scan proves something only if the provider's own log lines were among what was searched.
    searched = "\n".join([out, err, *all_logs.lines])
    assert "Created OOS execution" in searched, "the provider's log lines were not captured"
    assert "Reason:" in searched or "FAILED" in searched
    record(
        "secrets",
        places_searched=len(evidence.items),
        log_records_searched=len(all_logs.lines),
        output_chars_searched=len(out) + len(err),
        leaks=len(evidence.leaks()),
    )
    assert not evidence.leaks(), "secret leaked:\n" + "\n".join(evidence.leaks())


@pytest.mark.reliability
def test_demo_leaks_no_secret(tmp_path: Path) -> None:
    """`scripts/demo.py` with the canary secret key: its output and its Airflow logs stay clean."""
    demo = REPO / "scripts" / "demo.py"
    assert demo.exists(), "scripts/demo.py is missing"
    # demo.py has fixed demo keys: swap in the canary, and print each Airflow log it writes
    # (it deletes them on success) so they are searched too.
    runner = f"""
import runpy, sys, pathlib
sys.argv = [{str(demo)!r}]
demo = runpy.run_path({str(demo)!r}, run_name="demo_under_test")
main = demo["main"]
main.__globals__["SECRET_KEY"] = {CANARY_SECRET_KEY!r}
original = main.__globals__["airflow"]
def airflow(args, env, log, *rest, **options):
    code = original(args, env, log, *rest, **options)
    print("=== " + str(log) + " ===")
    print(pathlib.Path(log).read_text(errors="replace"))
    return code
main.__globals__["airflow"] = airflow
# Prove the swap took: the connection the demo hands to Airflow carries the canary.
conn = main.__globals__["airflow_env"](pathlib.Path("/nonexistent"), "http://127.0.0.1:1")["AIRFLOW_CONN_OOS_DEFAULT"]
print("CANARY-IN-EFFECT" if {CANARY_SECRET_KEY!r} in conn else "CANARY-MISSING")
sys.exit(main())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    done = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=600, cwd=REPO, env=env
    )
    output = done.stdout + done.stderr
    (tmp_path / "demo-output.txt").write_text(output)
    assert done.returncode == 0, f"demo failed:\n{output[-3000:]}"
    assert "SUCCESS" in output
    assert "CANARY-IN-EFFECT" in output, "the demo did not run with the canary secret key"
    leaks = [canary for canary in CANARIES if canary in output]
    record("secrets", demo_output_chars=len(output), demo_leaks=len(leaks))
    assert not leaks, f"the demo printed a secret: {leaks}"


@pytest.mark.parametrize(
    "host",
    [
        "http://{ak}:{sk}@127.0.0.1:8765",
        "http://{ak}:{sk}@127.0.0.1:8765/api/logic/oos",  # a second mistake in the same URL
        "http://{ak}:{sk}@127.0.0.1:8765/?region=bj",
        "http://{ak}:{sk}@127.0.0.1:notaport",
    ],
    ids=["credentials", "credentials-and-path", "credentials-and-query", "credentials-and-bad-port"],
)
def test_credentials_pasted_into_the_host_are_never_echoed(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user pastes `http://AK:SK@host…` into the host field: the error must say what is wrong
    without quoting the secret back (error texts end up in task logs and the UI)."""
    from airflow_provider_oos.hooks.oos import OosHook

    conn = {
        "conn_type": "baidu_oos",
        "login": CANARY_ACCESS_KEY,
        "password": CANARY_SECRET_KEY,
        "host": host.format(ak=CANARY_ACCESS_KEY, sk=CANARY_SECRET_KEY),
    }
    monkeypatch.setenv(conn_env_name("oos_pasted"), json.dumps(conn))
    hook = OosHook(oos_conn_id="oos_pasted")
    with pytest.raises(ValueError) as caught:
        hook.get_execution("d-1")
    ok, message = hook.test_connection()
    assert not ok
    assert "host" in str(caught.value)
    for text in (_text(caught.value), message):
        assert CANARY_SECRET_KEY not in text, f"secret echoed: {text}"
