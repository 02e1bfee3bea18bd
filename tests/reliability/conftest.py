"""Full runs (`make reliability`, i.e. `-m reliability`) and the RELIABILITY.md figures.

`make test` runs the fast tests of this folder (the full-size ones carry `@pytest.mark.reliability`
and are deselected there). A full run selects `-m reliability`; this conftest then also marks the
tests that have no separate full-size twin (bad-input catalogue, secrets scan, triggerer restart,
replay, ...) so they run in it too; tests named `*_fast` are the small twins and stay out. At the
end of a full run the collected figures are written into RELIABILITY.md by
`scripts/reliability_report.py`: the document always shows the last full run, never hand-typed
numbers. Set RELIABILITY_WRITE_FIGURES=0 to leave RELIABILITY.md alone (e.g. for a partial run).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import pytest

from .figures import FIGURES

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Loaded during collection, so "started" is about when the run began (session hooks come earlier).
_state: dict[str, Any] = {"started": time.time(), "outcomes": {}, "failed": []}


def is_full_run(config: pytest.Config) -> bool:
    expression = str(config.getoption("markexpr", "") or "")
    return "reliability" in expression and "not reliability" not in expression


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not is_full_run(config):
        return
    for item in items:
        if HERE in Path(str(item.path)).parents and not item.name.split("[")[0].endswith("_fast"):
            item.add_marker(pytest.mark.reliability)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if HERE.name not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcomes: dict[str, int] = _state["outcomes"]
        outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1
        if report.outcome == "failed":
            _state["failed"].append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not is_full_run(session.config) or not _state["outcomes"]:
        return
    if os.environ.get("RELIABILITY_WRITE_FIGURES", "1") == "0":  # e.g. a partial run on another Airflow
        return
    spec = importlib.util.spec_from_file_location(
        "reliability_report", REPO / "scripts" / "reliability_report.py"
    )
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    run = report.run_metadata(
        seconds=time.time() - _state["started"],
        outcomes=dict(_state["outcomes"]),
        failed=list(_state["failed"]),
    )
    report.write_figures(REPO / "RELIABILITY.md", FIGURES, run)
