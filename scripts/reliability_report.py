"""Write the figures of the last full reliability run into RELIABILITY.md.

Called by `tests/reliability/conftest.py` at the end of `make reliability`; the figures come from
the run itself (`tests/reliability/figures.py`), never typed by hand. Replaces only the part of
RELIABILITY.md between the two markers below, so the prose around it stays as written.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

START = "<!-- reliability-figures:start (written by scripts/reliability_report.py; do not edit) -->"
END = "<!-- reliability-figures:end -->"


def run_metadata(*, seconds: float, outcomes: dict[str, int], failed: list[str]) -> dict[str, Any]:
    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
    except Exception:  # pragma: no cover - Airflow is installed wherever this runs
        airflow_version = "unknown"
    return {
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(seconds),
        "outcomes": outcomes,
        "failed": failed,
        "airflow": airflow_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "command": "make reliability  (pytest -q -m reliability tests)",
    }


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(column, "")) for column in columns) + " |")
    return lines


def _pairs(values: dict[str, Any]) -> list[str]:
    return [f"- {key.replace('_', ' ')}: **{value}**" for key, value in values.items() if key != "rows"]


def render(figures: dict[str, dict[str, Any]], run: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{count} {name}" for name, count in sorted(run["outcomes"].items()))
    minutes, seconds = divmod(int(run["seconds"]), 60)
    lines = [
        START,
        "",
        f"Last full run: {run['finished']}; Airflow {run['airflow']}, Python {run['python']}, "
        f"{run['cpus']} CPUs; {minutes} min {seconds} s wall time; tests in tests/reliability: {outcomes}.",
        f"Command: `{run['command']}`.",
    ]
    if run["failed"]:
        lines += ["", "**Did not hold in this run:**", *[f"- `{nodeid}`" for nodeid in run["failed"]]]
    matrix = figures.get("fault matrix", {}).get("rows", [])
    if matrix:
        total_runs = sum(int(row["runs"]) for row in matrix)
        matched = sum(int(row["matched_true_state"]) for row in matrix)
        lines += [
            "",
            "### Fault matrix",
            "",
            f"{total_runs} executions in {len(matrix)} cells; {matched} ended in Airflow with the emulator's "
            "true final state; create calls per cell = runs per cell.",
            "",
            *_table(
                matrix,
                [
                    "fault",
                    "path",
                    "runs",
                    "succeeded",
                    "failed_as_designed",
                    "matched_true_state",
                    "create_calls",
                    "get_calls",
                    "sensor_try_failures",
                    "waiting_at_restart",
                    "restart_seconds",
                    "seconds",
                ],
            ),
        ]
    titles = [
        ("create under faults", "Create under faults (40 % of creates: 500 / 503 / 429 / dropped)"),
        ("exactly-once create", "Exactly-once create (answers lost after the create was committed)"),
        ("signature abuse", "Signature abuse"),
        ("bad input", "Bad-input catalogue"),
        ("secrets", "Secrets (canary key and token)"),
        ("crash recovery", "Crash recovery"),
        ("property tests", "Property tests"),
    ]
    for key, title in titles:
        if figures.get(key):
            lines += ["", f"### {title}", "", *_pairs(figures[key])]
    missing = [title for key, title in titles if not figures.get(key)]
    if missing:
        lines += ["", "Not measured in this run: " + "; ".join(missing) + "."]
    lines += ["", END]
    return "\n".join(lines)


def write_figures(path: Path, figures: dict[str, dict[str, Any]], run: dict[str, Any]) -> None:
    section = render(figures, run)
    text = path.read_text() if path.exists() else "# Reliability\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n## Figures of the last full run\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit("Run `make reliability`: the figures are written at the end of that run.")
