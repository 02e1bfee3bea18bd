"""Opt-in pytest plugin: fixtures that run the OOS emulator as a real server.

Installing the emulator changes nobody's pytest; enable the fixtures with one line in a
`conftest.py`: `pytest_plugins = ["oos_emulator.pytest_plugin"]`. Importing it
stays cheap: no FastAPI/uvicorn/requests at module level. The emulator runs as a subprocess of
the CLI, so DAG runs in other processes reach it too.

Fixtures:
  `oos_emulator`          one emulator per test session, reset before each test
  `oos_emulator_factory`  `factory(time_scale=..., db_path=..., session_token=...)` for tests
                          needing their own instance (stopped at the end of the test)
The session emulator's time scale is `OOS_EMULATOR_TIME_SCALE` (default 0.02: 50x faster).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from oos_emulator.process import DEFAULT_TEST_TIME_SCALE, EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "oos_emulator", "oos_emulator_factory"]


@pytest.fixture(scope="session")
def _oos_emulator_session() -> Iterator[EmulatorHandle]:
    scale = float(os.environ.get("OOS_EMULATOR_TIME_SCALE", DEFAULT_TEST_TIME_SCALE))
    handle = start_emulator(time_scale=scale)
    yield handle
    handle.stop()


@pytest.fixture
def oos_emulator(_oos_emulator_session: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator with fresh state (templates, executions, instances, faults)."""
    if _oos_emulator_session.process is None or _oos_emulator_session.process.poll() is not None:
        _oos_emulator_session.start()  # a test stopped or restarted it: bring it back
    _oos_emulator_session.reset()
    return _oos_emulator_session


@pytest.fixture
def oos_emulator_factory() -> Iterator[Callable[..., EmulatorHandle]]:
    """Start dedicated emulators: `factory(time_scale=0.05, db_path=..., session_token=...)`."""
    started: list[EmulatorHandle] = []

    def factory(**options: Any) -> EmulatorHandle:
        options.setdefault("time_scale", DEFAULT_TEST_TIME_SCALE)
        handle = start_emulator(**options)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()
