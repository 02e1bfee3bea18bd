"""`scripts/demo.py` pieces against a real emulator (the full `make demo` run is too slow for the suite)."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from types import ModuleType

import pytest
import requests
from oos_emulator.process import EmulatorHandle

from tests.support.dag_runner import REPO, OosApi


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oos_demo", REPO / "scripts" / "demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


@pytest.fixture
def demo_emulator(oos_emulator_factory: Callable[..., EmulatorHandle]) -> EmulatorHandle:
    """An emulator with the demo's key pair and instances."""
    return oos_emulator_factory(
        access_key=demo.ACCESS_KEY, secret_key=demo.SECRET_KEY, instances=demo.INSTANCES
    )


def _run_to_the_end(emulator: EmulatorHandle, instance_id: str) -> str:
    """Start a stop-then-start execution on `instance_id`; return its id once it is final."""
    instances = [{"instanceId": instance_id}]
    common = {"retries": 0, "retryInterval": 1000, "timeout": 60000, "properties": {"instances": instances}}
    template = {
        "name": "demo-check",
        "linear": True,
        "operators": [
            {"name": "stop", "operator": "BCE::BCC::StopInstance", **common},
            {"name": "start", "operator": "BCE::BCC::StartInstance", **common},
        ],
    }
    api = OosApi(emulator.url, emulator.access_key, emulator.secret_key)
    execution_id: str = api.call("POST", "/v2/execution", json={"template": template}).json()["result"]["id"]
    deadline = time.monotonic() + 30
    while not api.execution(execution_id).is_final:
        assert time.monotonic() < deadline, "the emulator did not finish the execution"
        time.sleep(0.05)
    return execution_id


def test_summary_shows_each_execution_and_step(
    demo_emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = _run_to_the_end(demo_emulator, demo.INSTANCES[0])

    assert demo.print_summary(demo_emulator.url) is True
    out = capsys.readouterr().out
    assert f"execution {execution_id}: SUCCESS" in out
    assert "stop " in out and "BCE::BCC::StopInstance" in out and "start " in out
    assert re.search(r"StopInstance\s+SUCCESS\s+\d+\.\ds", out), out  # each step's duration, from its log
    assert demo.SECRET_KEY not in out


def test_summary_is_false_and_names_the_reason_when_a_step_fails(
    demo_emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_to_the_end(demo_emulator, "i-not-seeded")

    assert demo.print_summary(demo_emulator.url) is False
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "reason:" in out and "i-not-seeded" in out


def test_summary_is_false_without_any_execution(demo_emulator: EmulatorHandle) -> None:
    assert demo.print_summary(demo_emulator.url) is False


def test_running_emulator_starts_the_cli_and_stops_it() -> None:
    with demo.running_emulator() as url:
        instances = requests.get(f"{url}/emulator/instances", timeout=10).json()["instances"]
        assert [item["instanceId"] for item in instances] == demo.INSTANCES
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/emulator/instances", timeout=5)


def test_progress_lines_are_the_providers_own() -> None:
    lines = {
        "2026-01-01T00:00:00Z [info     ] OOS execution d-1 is RUNNING. "
        "[airflow.task.operators.airflow_provider_oos.operators.oos.OosCreateExecutionOperator] loc=x": (
            "OOS execution d-1 is RUNNING."
        ),
        "2026-01-01T00:00:00Z [info     ] OOS execution d-1: 1/3 tasks done. "
        "[airflow_provider_oos.triggers.oos.OosExecutionTrigger] loc=x": "OOS execution d-1: 1/3 tasks done.",
        # Per-request hook lines and Airflow's own lines stay in the log file only.
        "2026-01-01T00:00:00Z [info     ] OOS GET /api/logic/oos/v2/execution -> 200 "
        "[airflow.task.hooks.airflow_provider_oos.hooks.oos.OosHook] loc=x": None,
        "2026-01-01T00:00:00Z [info     ] Task started [airflow.api_fastapi.execution_api] loc=x": None,
    }
    for line, shown in lines.items():
        match = demo.PROGRESS_LINE.search(line)
        assert (match["message"] if match else None) == shown
