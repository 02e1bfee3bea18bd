"""Provider metadata read by Airflow's providers manager (entry point in pyproject.toml)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-oos",
        "name": "Baidu AI Cloud OOS",
        "description": "Run and await Baidu AI Cloud OOS (Operation Orchestration Service) executions.",
        "versions": ["0.1.0"],
    }
