"""Emulator throughput, measured by the emulator's own `benchmarks/emulator_throughput.py` `run(seconds)`."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Check, Section


def run(smoke: bool = False) -> Section:
    from benchmarks.emulator_throughput import run as measure

    seconds = 1.0 if smoke else 5.0
    figures: dict[str, Any] = measure(seconds)
    rps = float(figures["requests_per_second"])
    target = float(figures.get("target_requests_per_second", 300))
    section = Section(
        title="Emulator throughput",
        method=(
            f"`benchmarks/emulator_throughput.py` `run({seconds:g})` (owned by the emulator): "
            f"{figures.get('clients')} threads with keep-alive `requests.Session`s poll one execution "
            "with a fresh bce-auth-v1 signature per request, against a CLI-started emulator."
        ),
        headers=["requests/s", "requests", "errors", "p50 ms", "p99 ms"],
        rows=[
            [
                f"{rps:,.0f}",
                str(figures.get("requests")),
                str(figures.get("errors")),
                str(figures.get("p50_ms")),
                str(figures.get("p99_ms")),
            ]
        ],
        data=figures,
    )
    errors = int(figures.get("errors") or 0)
    section.checks = [
        Check(
            f">= {target:g} signed GETs/s (10,000 waits polling every 30 s), no errors",
            f"{rps:,.0f}/s, {errors} errors",
            rps >= target and errors == 0,
        )
    ]
    return section
