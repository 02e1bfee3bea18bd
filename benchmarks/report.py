"""Render the benchmark sections as BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from benchmarks.common import Check, Section

COMMAND = "make bench  # = AIRFLOW_HOME=.airflow/3.3 .venv/bin/python -m benchmarks"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows]
    return lines


def _verdict(check: Check) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[check.met]


def render(
    sections: Sequence[Section],
    machine: dict[str, str],
    seconds: float,
    analysis: Sequence[str] = (),
    when: datetime | None = None,
) -> str:
    when = when or datetime.now(timezone.utc)
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{COMMAND}` on {when:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min; every figure "
        "below comes from that one run. Ratios are measured side by side in the same run and are "
        "what counts; absolute times are context only (a shared 2-core box is noisy).",
        "",
        "## Machine",
        "",
        *_table(["", ""], [[key, value] for key, value in machine.items()]),
        "",
        "## Targets",
        "",
    ]
    rows = []
    for section in sections:
        if section.error:
            last_line = section.error.strip().splitlines()[-1]
            rows.append([section.title, "(benchmark did not run)", last_line, "not run"])
        for check in section.checks:
            rows.append([section.title, check.target, check.measured, _verdict(check)])
    lines += _table(["benchmark", "target", "measured", "verdict"], rows)
    for section in sections:
        lines += ["", f"## {section.title}", "", section.method, ""]
        if section.error:
            lines += ["**Not run:**", "", "```", section.error.strip()[-1500:], "```"]
            continue
        if section.rows:
            lines += _table(section.headers, section.rows)
        if section.notes and not any(check.met is False for check in section.checks):
            lines += ["", *[f"- {note}" for note in section.notes]]
    missed = [section for section in sections if any(check.met is False for check in section.checks)]
    if missed or analysis:
        lines += ["", "## Missed targets: why, and what would close them", ""]
        for section in missed:
            lines += [f"### {section.title}", ""]
            lines += [f"- {note}" for note in section.notes] or ["- (no analysis recorded)"]
            lines.append("")
        lines += list(analysis)
    lines.append("")
    return "\n".join(lines)
