"""Profiles that say where CPU time and memory go, grouped by component, for the report.

`cpu_profile` runs a callable under cProfile with a CPU-time clock (time blocked in a socket
read does not count) and returns the self time of each component; C functions (sockets, HMAC,
JSON, pydantic-core) are charged to a system bucket when they are syscalls, else to the
component of the Python code that called them. `memory_by_component` groups a tracemalloc
snapshot difference the same way. Both are shown in BENCHMARKS.md next to a missed target.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# First match wins: (component, path fragments). Paths use "/" (Linux box).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("provider: signing (auth.py)", ("airflow_provider_oos/client/auth.py",)),
    ("provider: waiting/trigger", ("airflow_provider_oos/rules/", "airflow_provider_oos/triggers/")),
    ("provider: hooks/transport/models", ("airflow_provider_oos/",)),
    ("requests", ("/requests/",)),
    ("urllib3", ("/urllib3/",)),
    ("aiohttp/yarl/multidict", ("/aiohttp/", "/yarl/", "/multidict/", "/aiohappyeyeballs/")),
    ("http.client/email (stdlib)", ("/http/client.py", "/email/")),
    ("asyncio event loop", ("/asyncio/", "/selectors.py")),
    ("tenacity (retries)", ("/tenacity/",)),
    ("threads (asgiref, concurrent.futures)", ("/threading.py", "/concurrent/", "/asgiref/", "/queue.py")),
    ("logging", ("/logging/", "/structlog/", "/_shared/logging/", "/sdk/log.py", "logging_mixin.py")),
    ("pydantic/json", ("/pydantic", "/json/")),
    ("uuid/urllib.parse/typing (stdlib)", ("/uuid.py", "/urllib/", "/typing.py", "_collections_abc")),
    ("airflow", ("/airflow/",)),
    ("benchmark harness", ("/benchmarks/",)),
    ("imports (once per process)", ("<frozen importlib", "<frozen zipimport")),
)
SYSTEM = "socket/select syscalls"
OTHER = "other"
_SYSCALL_WORDS = ("socket", "select", "epoll", "poll'", "sendall", "recv", "send'", "_ssl")


def component_of(filename: str) -> str:
    for name, fragments in COMPONENTS:
        if any(fragment in filename for fragment in fragments):
            return name
    return OTHER


def _builtin_component(function_name: str) -> str | None:
    return SYSTEM if any(word in function_name for word in _SYSCALL_WORDS) else None


def group_stats(stats: pstats.Stats) -> dict[str, float]:
    """Self seconds per component; a C function's time goes to the component of its caller."""
    totals: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function_name), (_cc, _nc, self_time, _ct, callers) in raw.items():
        if filename != "~":
            component = component_of(filename)
            totals[component] = totals.get(component, 0.0) + self_time
            continue
        system = _builtin_component(function_name)
        if system is not None or not callers:
            key = system or OTHER
            totals[key] = totals.get(key, 0.0) + self_time
            continue
        for (caller_file, _, _), edge in callers.items():
            # edge = (cc, nc, tt, ct): tt is the time spent in this builtin when called from there.
            key = component_of(caller_file) if caller_file != "~" else OTHER
            totals[key] = totals.get(key, 0.0) + edge[2]
    return totals


@contextmanager
def cpu_profiled() -> Iterator[cProfile.Profile]:
    """cProfile on process CPU time for the body of the `with`."""
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()


def cpu_profile(call: Callable[[], object], seconds: float) -> dict[str, Any]:
    """Call `call` repeatedly for `seconds` of wall time under the CPU profiler."""
    calls = 0
    deadline = time.perf_counter() + seconds
    with cpu_profiled() as profile:
        while time.perf_counter() < deadline:
            call()
            calls += 1
    return summarize(profile, calls)


def summarize(profile: cProfile.Profile, units: int) -> dict[str, Any]:
    """{"units", "total_ms_per_unit", "components": [[name, ms per unit, share], ...]} (largest first)."""
    return rank(group_stats(pstats.Stats(profile)), units)


def rank(totals: dict[str, float], units: int) -> dict[str, Any]:
    """`summarize` for self seconds per component already grouped (e.g. sent by a child process)."""
    total = sum(totals.values()) or 1e-12
    units = max(units, 1)
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return {
        "units": units,
        "total_ms_per_unit": total / units * 1000,
        "components": [[name, seconds / units * 1000, seconds / total] for name, seconds in ranked],
    }


def describe(profile: dict[str, Any], unit: str, top: int = 8) -> str:
    """One line for the report: the largest components, ms per unit and share."""
    parts = [
        f"{name} {ms:.3f} ms ({share:.0%})"
        for name, ms, share in profile["components"][:top]
        if share >= 0.005
    ]
    return (
        f"cProfile on CPU time, self time by component per {unit} "
        f"({profile['total_ms_per_unit']:.3f} ms profiled; the profiler inflates Python-heavy "
        f"parts): {'; '.join(parts)}"
    )


def memory_by_component(before: Any, after: Any) -> dict[str, int]:
    """Bytes by component between two tracemalloc snapshots (allocation site = innermost frame)."""
    totals: dict[str, int] = {}
    for stat in after.compare_to(before, "filename"):
        key = component_of(stat.traceback[0].filename)
        totals[key] = totals.get(key, 0) + stat.size_diff
    return totals


def rank_memory(totals: dict[str, int], units: int) -> dict[str, Any]:
    """{"units", "total_bytes_per_unit", "components": [[name, bytes per unit], ...]} (largest first)."""
    units = max(units, 1)
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    total = sum(totals.values())
    return {
        "units": units,
        "total_bytes_per_unit": total / units,
        "components": [[name, size / units] for name, size in ranked],
    }


def describe_memory(memory: dict[str, Any], unit: str, top: int = 8) -> str:
    parts = [f"{name} {size / 1024:.2f} KB" for name, size in memory["components"][:top] if size > 50]
    return (
        f"tracemalloc, live Python allocations per {unit} by allocating component "
        f"({memory['total_bytes_per_unit'] / 1024:.1f} KB traced): {'; '.join(parts)}"
    )


def memory_top_lines(before: Any, after: Any, units: int, top: int = 8) -> list[list[Any]]:
    """The allocating lines that grew most: [["dir/file.py:line", bytes per unit], ...]."""
    units = max(units, 1)
    lines = []
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        short = "/".join(frame.filename.split("/")[-2:])
        lines.append([f"{short}:{frame.lineno}", stat.size_diff / units])
    return lines


def describe_difference(profile: dict[str, Any], baseline: dict[str, Any], unit: str, top: int = 6) -> str:
    """What `profile` spends above `baseline` per unit, by component (both from `summarize`)."""
    ours = {name: ms for name, ms, _ in profile["components"]}
    base = {name: ms for name, ms, _ in baseline["components"]}
    extra = sorted(((ours.get(n, 0.0) - base.get(n, 0.0), n) for n in set(ours) | set(base)), reverse=True)
    total = profile["total_ms_per_unit"] - baseline["total_ms_per_unit"]
    parts = [f"{name} +{ms:.3f} ms" for ms, name in extra[:top] if ms > 0.005]
    return (
        f"cProfile on CPU time, {total:+.3f} ms per {unit} in all (profiled; shares matter more than "
        f"absolute figures): {'; '.join(parts)}"
    )
