"""Smoke runs of every benchmark at tiny sizes, so `make bench` cannot rot.

These assert that each benchmark runs end to end and produces sane numbers, never timing
targets (shared CI machines are noisy). The one real assertion about the product is the
import footprint of the operators module, checked in a fresh interpreter.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks import dag_parse, emulator_section, hook_throughput, report, signing, waiting
from benchmarks.common import Section, machine, percentile


def _finite_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def operators_footprint() -> dict[str, Any]:
    return dag_parse.import_footprint()


def test_importing_the_operators_module_pulls_in_no_http_client_hook_or_emulator(
    operators_footprint: dict[str, Any],
) -> None:
    footprint = operators_footprint
    assert footprint["forbidden_added"] == []
    # The check is not vacuous: the operators module itself was imported by the fresh interpreter.
    assert "airflow_provider_oos.operators.oos" in footprint["added_provider"]
    assert "airflow.sdk" in footprint["baseline_modules"]


def test_import_footprint_detects_a_forbidden_import() -> None:
    # The hook module imports requests at module level: the same check must flag it.
    footprint = dag_parse.import_footprint("airflow_provider_oos.hooks.oos")
    assert any(name == "requests" or name.startswith("requests.") for name in footprint["forbidden_added"])


def test_signing_smoke() -> None:
    section = signing.run(smoke=True)
    timings = section.data["timings"]
    assert all(_finite_positive(t["min"]) and t["min"] <= t["median"] for t in timings.values())
    assert _finite_positive(section.data["speedup_vs_official"])
    assert len(section.checks) == 2 and all(check.met is not None for check in section.checks)


def test_hook_throughput_smoke() -> None:
    section = hook_throughput.run(smoke=True)
    for client in section.data["clients"].values():
        assert client["calls"] > 0
        assert _finite_positive(client["rps"]) and _finite_positive(client["cpu_ms_per_call"])
    assert _finite_positive(section.data["ratio"])
    # The profile shown in the report names where the hook's CPU goes.
    components = {name: ms for name, ms, _ in section.data["profile"]["components"]}
    assert components.get("requests", 0) > 0 and components.get("provider: hooks/transport/models", 0) > 0


def test_emulator_throughput_smoke() -> None:
    section = emulator_section.run(smoke=True)
    assert section.data["requests"] > 0
    assert section.data["errors"] == 0


def test_dag_parse_smoke(operators_footprint: dict[str, Any]) -> None:
    section = dag_parse.run(smoke=True, footprint=operators_footprint)
    (item,) = section.data["files"]
    assert item["tasks"] > 0
    assert _finite_positive(item["ours"]) and _finite_positive(item["twin"])


def test_twin_keeps_the_dag_shape() -> None:
    shapes = [
        {
            "dag_id": "d",
            "schedule": None,
            "tags": ["x"],
            "tasks": [
                {"task_id": "a", "python": True, "upstream": []},
                {"task_id": "b", "python": False, "upstream": ["a"]},
            ],
        }
    ]
    namespace: dict[str, object] = {}
    exec(compile(dag_parse.twin_source(shapes), "twin.py", "exec"), namespace)
    dag = namespace["dag_0"]
    assert sorted(dag.task_dict) == ["a", "b"]  # type: ignore[attr-defined]
    assert dag.task_dict["b"].upstream_task_ids == {"a"}  # type: ignore[attr-defined]
    assert type(dag.task_dict["a"]).__name__ == "PythonOperator"  # type: ignore[attr-defined]
    assert type(dag.task_dict["b"]).__name__ == "EmptyOperator"  # type: ignore[attr-defined]


def test_waiting_smoke() -> None:
    section = waiting.run(smoke=True)
    summaries = {s["variant"]: s for s in section.data["summaries"]}
    assert set(summaries) == {"pooled", "naive"}
    for summary in summaries.values():
        # Every wait saw its execution succeed and each polled at least once.
        assert summary["successes"] == summary["count"] and summary["undetected"] == 0
        assert summary["polls"] >= summary["count"]
        assert _finite_positive(summary["cpu_ms_per_poll"])
        assert math.isfinite(summary["kb_per_wait"])
        assert summary["latency_samples"] > 0 and summary["latency_p50"] <= summary["latency_p99"]
    # The naive trigger opens a connection per poll; the pooled one reuses its pool.
    assert summaries["naive"]["connections_opened"] >= summaries["naive"]["polls"]
    assert summaries["pooled"]["connections_opened"] <= summaries["pooled"]["count"]
    # The profiles shown next to a missed target (always taken in smoke runs) are filled in.
    profiles = section.data["profiles"]
    assert profiles["memory_active_waits"] > 0 and profiles["memory"]["total_bytes_per_unit"] > 0
    cpu = {name: ms for name, ms, _ in profiles["cpu"]["components"]}
    assert cpu.get("aiohttp/yarl/multidict", 0) > 0 and cpu.get("provider: signing (auth.py)", 0) > 0


def test_report_renders_targets_machine_and_misses() -> None:
    from benchmarks.common import Check

    sections = [
        Section(
            title="Example",
            method="how",
            headers=["a", "b"],
            rows=[["1", "2|3"]],
            checks=[Check("fast", "slow", False), Check("small", "small", True)],
            notes=["because"],
        ),
        Section(title="Broken", method="", error="Traceback\nRuntimeError: boom"),
    ]
    text = report.render(sections, machine(), 61.0)
    assert "## Machine" in text and "python" in text and "airflow" in text
    assert "| Example | fast | slow | **missed** |" in text
    assert "| Example | small | small | met |" in text
    assert "2\\|3" in text and "- because" in text and "boom" in text


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
