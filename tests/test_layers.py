"""The layers hold at run time, not only in the import contracts: each is imported in a fresh
interpreter and what it pulled into ``sys.modules`` is checked."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import airflow_provider_oos.client
import airflow_provider_oos.rules

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_importing(modules: list[str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *modules], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def submodules(package: object) -> list[str]:
    prefix = f"{package.__name__}."  # type: ignore[attr-defined]
    return [prefix + info.name for info in pkgutil.iter_modules(package.__path__)]  # type: ignore[attr-defined]


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def test_the_whole_client_imports_with_airflow_absent() -> None:
    modules = submodules(airflow_provider_oos.client)
    assert "airflow_provider_oos.client.operations" in modules
    loaded = top_level(loaded_after_importing(modules))
    assert "airflow" not in loaded
    assert not {"oos_emulator", "fastapi", "uvicorn"} & loaded


@pytest.mark.parametrize("forbidden", ["airflow", "requests", "aiohttp", "urllib3"])
def test_the_rules_import_neither_airflow_nor_an_http_library(forbidden: str) -> None:
    modules = submodules(airflow_provider_oos.rules)
    assert "airflow_provider_oos.rules.waiting" in modules
    assert forbidden not in top_level(loaded_after_importing(modules))
