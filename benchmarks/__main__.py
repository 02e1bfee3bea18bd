"""`make bench`: run every benchmark in one go, print the figures, rewrite BENCHMARKS.md.

python -m benchmarks                 # full run (~10 min), writes BENCHMARKS.md
python -m benchmarks --smoke         # tiny N, seconds; prints only (what `make test` runs)
python -m benchmarks --only signing  # one or more benchmarks by name
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks import dag_parse, emulator_section, hook_throughput, report, signing, waiting
from benchmarks.common import REPO, Section, machine

# Fast ones first, the long waiting-at-scale run last.
BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "signing": signing.run,
    "hook": hook_throughput.run,
    "emulator": emulator_section.run,
    "dag_parse": dag_parse.run,
    "waiting": waiting.run,
}


def run_all(names: list[str], smoke: bool) -> list[Section]:
    sections = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            section = BENCHMARKS[name](smoke)
        except Exception:  # one broken benchmark must not hide the others' figures
            section = Section(title=name, method="", error=traceback.format_exc())
        print(describe(section, time.perf_counter() - started), flush=True)
        sections.append(section)
    return sections


def describe(section: Section, seconds: float) -> str:
    lines = [f"{section.title} ({seconds:.0f} s)"]
    if section.error:
        lines.append(f"  NOT RUN: {section.error.strip().splitlines()[-1]}")
    for row in section.rows:
        lines.append("  " + " | ".join(row))
    for check in section.checks:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[check.met]
        lines.append(f"  [{verdict}] {check.target}: {check.measured}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; do not write BENCHMARKS.md")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sections = run_all(args.only, args.smoke)
    if not args.smoke:
        text = report.render(sections, machine(), time.perf_counter() - started)
        args.output.write_text(text)
        print(f"wrote {args.output}")
    return 1 if any(section.error for section in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
