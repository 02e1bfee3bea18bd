"""`make dist`'s install check: the built provider wheel works on every tested Airflow line.

For each ``constraints/airflow-X.Y.Z.txt`` (one per line that ``make test`` runs), installs the
wheel into a new, empty venv with that line's constraints (so Airflow X.Y.Z comes from the
registry, not from the repo's venvs), then, inside that venv (``--probe``):

- reads ``get_provider_info()`` through the ``apache_airflow_provider`` entry point, as Airflow's
  providers manager does, and imports everything it names: hook, operator, sensor and trigger
  modules (and the classes they define), extra links, the connection's hook class, plugins and
  task decorators; new entries in the info are picked up without editing this file;
- checks that Airflow's ``ProvidersManager`` registers the provider and the ``baidu_oos``
  connection type;
- checks that the provider installed no emulator module (``oos_emulator`` is a distribution of
  its own) and that the version Airflow sees is the package's ``__version__``.

Before any install it checks the wheel's file list: no emulator module, a ``py.typed``, the
license files. Standard library only: it runs in the clean venvs too.

Usage: ``python scripts/dist_check.py DIST_DIR [--uv PATH] [--line 3.2.2 ...]``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DISTRIBUTION = "airflow-provider-oos"
PACKAGE = "airflow_provider_oos"
EMULATOR_PACKAGE = "oos_emulator"
CONNECTION_TYPE = "baidu_oos"
# Keys of the provider info whose values name one importable object (a dotted path to it).
OBJECT_KEYS = ("hook-class-name", "plugin-class", "class-name")


def named_paths(info: Any) -> Iterator[tuple[str, str]]:
    """Every (kind, dotted path) the provider info names, walking the whole structure."""
    if isinstance(info, dict):
        for key, value in info.items():
            if key == "python-modules":
                yield from (("module", path) for path in value)
            elif key in OBJECT_KEYS:
                yield ("object", value)
            elif key in ("extra-links", "notifications") and isinstance(value, list):
                yield from (("object", path) for path in value if isinstance(path, str))
            else:
                yield from named_paths(value)
    elif isinstance(info, list):
        for item in info:
            yield from named_paths(item)


def import_object(path: str) -> Any:
    module_name, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def probe() -> dict[str, Any]:
    """Runs inside the clean venv: import what the installed provider's info names."""
    from importlib.metadata import distribution, entry_points

    (entry_point,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == DISTRIBUTION
    ]
    info = entry_point.load()()
    imported: list[str] = []
    for kind, path in named_paths(info):
        if kind == "module":
            module = importlib.import_module(path)
            classes = [
                f"{path}.{name}"
                for name, value in vars(module).items()
                if inspect.isclass(value) and value.__module__ == path and not name.startswith("_")
            ]
            imported += [path, *classes]
        else:
            import_object(path)
            imported.append(path)

    files = [str(f) for f in distribution(DISTRIBUTION).files or []]
    emulator_files = [f for f in files if f.startswith(EMULATOR_PACKAGE)]
    assert not emulator_files, f"the provider installed emulator files: {emulator_files[:5]}"
    assert importlib.util.find_spec(EMULATOR_PACKAGE) is None, "oos_emulator importable in a clean venv"

    import airflow_provider_oos

    airflow: Any = importlib.import_module("airflow")  # untyped: read through Any
    manager = importlib.import_module("airflow.providers_manager").ProvidersManager()
    provider = manager.providers[DISTRIBUTION]
    assert provider.version == airflow_provider_oos.__version__, (provider.version, airflow_provider_oos)
    assert CONNECTION_TYPE in manager.hooks, f"{CONNECTION_TYPE} not among the registered connection types"
    return {"airflow": airflow.__version__, "version": provider.version, "imported": imported}


def check_wheel(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    emulator = [n for n in names if n.startswith(f"{EMULATOR_PACKAGE}/")]
    if emulator:
        raise SystemExit(f"{wheel.name} holds emulator modules: {emulator[:5]}")
    packages = {n.split("/", 1)[0] for n in names if "/" in n and ".dist-info/" not in n}
    if packages != {PACKAGE}:
        raise SystemExit(f"{wheel.name} holds top-level packages {sorted(packages)}, expected only {PACKAGE}")
    for needed in (f"{PACKAGE}/py.typed", "licenses/LICENSE", "licenses/NOTICE"):
        if not any(n.endswith(needed) for n in names):
            raise SystemExit(f"{wheel.name} lacks {needed}")


def check_line(wheel: Path, constraints: Path, uv: Path) -> dict[str, Any]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oos-dist-check-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, venv], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", python, "-c", constraints, wheel], check=True
        )
        # Outside the repo, so that only the installed wheel can be imported.
        answer = subprocess.run(
            [python, Path(__file__).resolve(), "--probe"],
            cwd=tmp,
            env={"AIRFLOW_HOME": str(Path(tmp) / "airflow"), "HOME": tmp, "PATH": str(venv / "bin")},
            capture_output=True,
            text=True,
        )
    if answer.returncode != 0:
        failure = answer.stderr[-4000:]
        raise SystemExit(f"{constraints.name}: the installed wheel failed its check:\n{failure}")
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist_dir", nargs="?", type=Path)
    parser.add_argument("--uv", type=Path, default=REPO / ".tools" / "bin" / "uv")
    parser.add_argument("--line", action="append", help="only this Airflow version (repeatable)")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe()))
        return
    if args.dist_dir is None:
        parser.error("DIST_DIR is required")
    wheels = sorted(args.dist_dir.glob(f"{PACKAGE}-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one {PACKAGE} wheel in {args.dist_dir}, found {[w.name for w in wheels]}")
    wheel = wheels[0].resolve()
    check_wheel(wheel)
    lines = sorted((REPO / "constraints").glob("airflow-*.txt"))
    if args.line:
        lines = [c for c in lines if c.stem.removeprefix("airflow-") in args.line]
    if not lines:
        raise SystemExit("no constraints/airflow-*.txt selected")
    for constraints in lines:
        result = check_line(wheel, constraints, args.uv)
        print(
            f"{wheel.name} on Airflow {result['airflow']} ({constraints.name}): "
            f"provider {result['version']}, "
            f"{len(result['imported'])} modules and classes imported, no emulator module "
            f"({result['seconds']} s)"
        )


if __name__ == "__main__":
    main()
