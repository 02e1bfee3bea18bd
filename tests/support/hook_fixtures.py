"""Fixtures every test may use (loaded for the whole session by tests/conftest.py): the scripted
servers, the one ``emulator`` (the shared emulator as ``oos_default``) and the one ``hook_factory``.

They are visible to every module, so the secret check is not
autouse: each hook test module opts in with `pytestmark = pytest.mark.usefixtures("no_secret_in_logs")`
(an autouse capfd fixture would clash with other modules' capsys tests)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.hooks.oos import OosHook
from tests.support.oos_server import SECRET_KEY, SESSION_TOKEN, ScriptedOosServer
from tests.support.oos_task_helpers import FAST_RETRY_EXTRAS, connection_json

LOGGERS = ("", "airflow", "airflow.task", "airflow_provider_oos", "requests", "urllib3", "aiohttp", "asyncio")


@pytest.fixture
def oos_server() -> Iterator[ScriptedOosServer]:
    with ScriptedOosServer(access_key="test-ak", secret_key=SECRET_KEY) as server:
        yield server


@pytest.fixture
def sts_server() -> Iterator[ScriptedOosServer]:
    with ScriptedOosServer(
        access_key="test-ak", secret_key=SECRET_KEY, session_token=SESSION_TOKEN
    ) as server:
        yield server


@pytest.fixture
def no_secret_in_logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Capture every log record at DEBUG (requests/urllib3/aiohttp included) and the process's
    stdout/stderr during each hook test; fail the test if a secret shows up anywhere."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    out, err = capfd.readouterr()
    texts = [out, err]
    # At teardown caplog.records only holds this phase's records: read each phase explicitly.
    records = [record for when in ("setup", "call") for record in caplog.get_records(when)]
    for record in records + caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(str(record.exc_info[1]))
    for text in texts:
        assert SECRET_KEY not in text
        assert SESSION_TOKEN not in text


@pytest.fixture
def emulator(oos_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """The session's emulator, reset, as the default connection ``oos_default`` (fast retries)."""
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(oos_emulator, **FAST_RETRY_EXTRAS))
    return oos_emulator


@pytest.fixture
def hook_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., OosHook]:
    """``hook_factory(server, **extras)``: an OosHook on a connection of its own to ``server`` (a
    ScriptedOosServer, or an emulator handle), with these connection extras."""

    def make(server: ScriptedOosServer | EmulatorHandle, **extras: Any) -> OosHook:
        conn_id = f"oos_{uuid.uuid4().hex[:8]}"
        if isinstance(server, ScriptedOosServer):
            conn = server.conn_json(**extras)
        else:
            conn = connection_json(server, **extras)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn)
        return OosHook(oos_conn_id=conn_id)

    return make
