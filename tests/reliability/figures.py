"""Figures collected while the suite runs; the conftest hands them to the RELIABILITY.md writer.

Tests call `record("fault matrix", key=value, ...)`; a later call for the same section and key
adds to counts (ints) and replaces everything else, so a parametrized test can accumulate.
"""

from __future__ import annotations

from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}


def record(section: str, **values: Any) -> None:
    figures = FIGURES.setdefault(section, {})
    for key, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and isinstance(figures.get(key), int):
            figures[key] += value
        else:
            figures[key] = value


def record_row(section: str, row: dict[str, Any]) -> None:
    """Append one row of a table (e.g. one cell of the fault matrix)."""
    FIGURES.setdefault(section, {}).setdefault("rows", []).append(row)
