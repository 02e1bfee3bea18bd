"""DAG parse cost: each example DAG file vs a generated twin of the same shape built from
`EmptyOperator`/`PythonOperator`, each sample in a fresh interpreter; plus the import footprint
of `airflow_provider_oos.operators.oos` (no requests, aiohttp, hook or emulator).

A sample is the CPU time of `runpy.run_path(file)` inside a fresh interpreter (interpreter
start-up excluded, Airflow's import included on both sides: that is what a DAG file processor
pays; CPU time, because wall time on a shared machine mostly measures the neighbours).
Files are parsed in alternating order (example, twin, example, ...) and the median is kept.
Bytecode is cached under a private PYTHONPYCACHEPREFIX and warmed once, as an installed
Airflow would have its .pyc files.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Check, Section, fmt, median

TARGET_ADDED_PERCENT = 5.0
EXAMPLE_DAGS = REPO / "example_dags"
OPERATORS_MODULE = "airflow_provider_oos.operators.oos"
# Importing the operators module must not pull these in (they cost time and memory in every
# DAG file processor; the hook is only needed when a task runs).
FORBIDDEN = ("requests", "aiohttp", "oos_emulator", "airflow_provider_oos.hooks")
PYCACHE = Path(tempfile.gettempdir()) / "oos-bench-pycache"


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return env


def _python(code: str, *args: str) -> Any:
    """Run `code` in a fresh interpreter; it prints one JSON document as its last stdout line."""
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"fresh interpreter failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(lines[-1])


PARSE_CODE = """
import json, runpy, sys, time
started = time.process_time()
runpy.run_path(sys.argv[1], run_name="__bench_dag__")
print(json.dumps(time.process_time() - started))
"""

SHAPE_CODE = """
import json, runpy, sys, time
started = time.process_time()
namespace = runpy.run_path(sys.argv[1], run_name="__bench_dag__")
seconds = time.process_time() - started  # this run is also a parse sample
from airflow.sdk import DAG
dags = [value for value in namespace.values() if isinstance(value, DAG)]
shapes = []
for dag in dags:
    tasks = []
    for task in dag.tasks:
        cls = type(task)
        module = getattr(task, "operator_class", cls)
        module = getattr(module, "__module__", "") or ""
        name = getattr(getattr(task, "operator_class", cls), "__name__", cls.__name__)
        is_python = "python" in module.lower() or "decorator" in module.lower() or "Python" in name
        is_python = is_python and not module.startswith("airflow_provider_oos")
        upstream = sorted(task.upstream_task_ids)
        tasks.append({"task_id": task.task_id, "python": is_python, "upstream": upstream})
    schedule = getattr(dag, "schedule", None)
    if not isinstance(schedule, (str, type(None))):
        schedule = None
    tags = sorted(dag.tags or [])
    shapes.append({"dag_id": dag.dag_id, "schedule": schedule, "tags": tags, "tasks": tasks})
print(json.dumps({"shapes": shapes, "seconds": seconds}))
"""


def dag_shapes(path: Path) -> tuple[list[dict[str, Any]], float]:
    """The DAGs' shapes, and the parse time of that run (a valid sample: fresh interpreter)."""
    result: dict[str, Any] = _python(SHAPE_CODE, str(path))
    return result["shapes"], float(result["seconds"])


def twin_source(shapes: list[dict[str, Any]]) -> str:
    """A DAG file with the same DAGs, task ids and edges, using only Airflow's standard operators."""
    lines = [
        "import pendulum",
        "from airflow.sdk import DAG",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        "from airflow.providers.standard.operators.python import PythonOperator",
        "",
        "",
        "def _noop():",
        "    return None",
        "",
    ]
    for number, shape in enumerate(shapes):
        lines.append(
            f"with DAG(dag_id={shape['dag_id']!r}, schedule={shape['schedule']!r}, "
            "start_date=pendulum.datetime(2026, 1, 1, tz='UTC'), catchup=False, "
            f"tags={shape['tags']!r}) as dag_{number}:"
        )
        names = {}
        for index, task in enumerate(shape["tasks"]):
            name = f"t_{number}_{index}"
            names[task["task_id"]] = name
            if task["python"]:
                lines.append(
                    f"    {name} = PythonOperator(task_id={task['task_id']!r}, python_callable=_noop)"
                )
            else:
                lines.append(f"    {name} = EmptyOperator(task_id={task['task_id']!r})")
        for task in shape["tasks"]:
            for upstream in task["upstream"]:
                lines.append(f"    {names[upstream]} >> {names[task['task_id']]}")
        if not shape["tasks"]:
            lines.append("    pass")
        lines.append("")
    return "\n".join(lines)


def parse_seconds(path: Path) -> float:
    seconds: float = _python(PARSE_CODE, str(path))
    return seconds


def measure_file(path: Path, samples: int, workdir: Path, warm_up: bool = False) -> dict[str, Any]:
    if warm_up:  # fills the shared bytecode cache (Airflow, the provider); not counted
        dag_shapes(path)
    shapes, first_sample = dag_shapes(path)
    twin = workdir / f"twin_{path.name}"
    twin.write_text(twin_source(shapes))
    if warm_up:
        parse_seconds(twin)
    ours: list[float] = [first_sample]
    theirs: list[float] = []
    for index in range(samples):
        pair = [(twin, theirs), (path, ours)]
        for file, bucket in pair if index % 2 == 0 else reversed(pair):
            if len(bucket) < samples:
                bucket.append(parse_seconds(file))
    ours_median, twin_median = median(ours), median(theirs)
    return {
        "file": path.name,
        "tasks": sum(len(shape["tasks"]) for shape in shapes),
        "ours": ours_median,
        "twin": twin_median,
        "added_percent": (ours_median - twin_median) / twin_median * 100,
        "samples": samples,
    }


# --- import footprint ------------------------------------------------------------------------------


def _module_imports(module: str, seen: set[str]) -> set[str]:
    """Non-provider modules imported at module level by `module` and the provider modules it imports."""
    if module in seen:
        return set()
    seen.add(module)
    spec_path = REPO / (module.replace(".", "/") + ".py")
    if not spec_path.exists():
        spec_path = REPO / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(spec_path.read_text())
    found: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions or TYPE_CHECKING are lazy
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith("airflow_provider_oos"):
                found |= _module_imports(name, seen)
            elif name != "__future__":
                found.add(name)
    return found


FOOTPRINT_CODE = """
import importlib, json, sys, time
baseline = json.loads(sys.argv[1])
for name in baseline:
    importlib.import_module(name)
before = set(sys.modules)
started = time.process_time()
importlib.import_module(sys.argv[2])
import_cpu = time.process_time() - started
forbidden = tuple(json.loads(sys.argv[3]))
def hit(name):
    return any(name == f or name.startswith(f + ".") for f in forbidden)
added = sorted(set(sys.modules) - before)
print(json.dumps({
    "baseline_modules": baseline,
    "forbidden_in_baseline": sorted(n for n in before if hit(n)),
    "forbidden_added": [n for n in added if hit(n)],
    "added_count": len(added),
    "added_provider": [n for n in added if n.startswith("airflow_provider_oos")],
    "import_cpu_seconds": import_cpu,
}))
"""


def import_footprint(module: str = OPERATORS_MODULE) -> dict[str, Any]:
    """What importing `module` adds to a fresh interpreter that already imported the same
    non-provider modules (Airflow itself may import requests on some paths)."""
    forbidden = tuple(f"{name}." for name in FORBIDDEN)
    # The forbidden modules themselves never go into the baseline, or a direct import of one
    # by the provider would hide in it.
    baseline = sorted(
        name
        for name in _module_imports(module, set())
        if name not in FORBIDDEN and not name.startswith(forbidden)
    )
    result: dict[str, Any] = _python(FOOTPRINT_CODE, json.dumps(baseline), module, json.dumps(FORBIDDEN))
    return result


def run(smoke: bool = False, footprint: dict[str, Any] | None = None) -> Section:
    files = sorted(EXAMPLE_DAGS.glob("example_*.py"))
    if smoke:
        files = files[:1]
    samples = 1 if smoke else 3
    footprint = footprint or import_footprint()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="oos-bench-dags-") as tmp:
        for path in files:
            print(f"  DAG parse: {path.name} ...", file=sys.stderr, flush=True)
            warm_up = not smoke and not results  # once: the bytecode cache is shared by all files
            results.append(measure_file(path, samples, Path(tmp), warm_up=warm_up))
    section = Section(
        title="DAG parse cost",
        method=(
            f"Each example DAG file vs a generated twin (same DAG ids, task ids and edges; provider "
            "operators replaced by `EmptyOperator`, Python tasks by `PythonOperator`). A sample = "
            "the CPU time of `runpy.run_path(file)` in a fresh interpreter (Airflow's own import included on "
            f"both sides); {samples} alternating samples per file (after one warm-up of the shared "
            "bytecode cache); median. "
            f"Import footprint: a fresh interpreter imports the same non-provider modules as "
            f"`{OPERATORS_MODULE}` ({', '.join(footprint['baseline_modules'])}), then the module itself."
        ),
        headers=["DAG file", "tasks", "example CPU s", "twin CPU s", "added"],
        data={"files": results, "footprint": footprint},
    )
    for item in results:
        section.rows.append(
            [
                item["file"],
                str(item["tasks"]),
                fmt(item["ours"], 3),
                fmt(item["twin"], 3),
                f"{item['added_percent']:+.1f}%",
            ]
        )
    worst = max(results, key=lambda item: item["added_percent"])
    typical = median([r["added_percent"] for r in results])
    # The provider's own import, timed directly on top of Airflow: a low-noise cross-check.
    import_percent = footprint["import_cpu_seconds"] / median([r["twin"] for r in results]) * 100
    section.data["import_percent"] = import_percent
    section.rows.append(
        [
            f"`import {OPERATORS_MODULE}` after its Airflow imports (CPU)",
            "",
            fmt(footprint["import_cpu_seconds"], 3),
            "",
            f"{import_percent:+.1f}% of a twin parse",
        ]
    )
    section.checks = [
        Check(
            f"the provider adds < {TARGET_ADDED_PERCENT:g}% to parsing a DAG file (median over files)",
            f"median {typical:+.1f}%, worst file {worst['added_percent']:+.1f}% ({worst['file']}); "
            f"the provider's import alone: {import_percent:+.1f}%",
            typical < TARGET_ADDED_PERCENT,
        ),
        Check(
            f"`import {OPERATORS_MODULE}` adds none of requests, aiohttp, the hook, the emulator",
            "adds "
            + (", ".join(footprint["forbidden_added"]) or "none of them")
            + f" ({footprint['added_count']} modules in all; already loaded by Airflow: "
            + (", ".join(sorted({n.split(".")[0] for n in footprint["forbidden_in_baseline"]})) or "none")
            + ")",
            not footprint["forbidden_added"],
        ),
    ]
    if worst["added_percent"] >= TARGET_ADDED_PERCENT > typical:
        section.notes.append(
            f"Single files scatter by about ±10% between runs ({samples} samples each, CPU time on a "
            "shared 2-core box), so the verdict uses the median over files; the direct import timing "
            "in the last row shows what the provider itself costs."
        )
    if typical >= TARGET_ADDED_PERCENT:
        section.notes.append(
            "DAG parse: the added time is the import of the provider's operator module and what it "
            "pulls in at module level (see `added_provider` in the footprint); move what a DAG file "
            "does not need at parse time behind function-level imports."
        )
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    section = run(smoke=args.smoke)
    Path(args.out).write_text(json.dumps({"data": section.data, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
