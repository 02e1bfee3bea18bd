"""Fixtures shared by the hook tests (loaded for the whole session by tests/conftest.py).

They are visible to every module, so the secret check is not
autouse: each hook test module opts in with `pytestmark = pytest.mark.usefixtures("no_secret_in_logs")`
(an autouse capfd fixture would clash with other modules' capsys tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.oos_server import SECRET_KEY, SESSION_TOKEN, ScriptedOosServer

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
