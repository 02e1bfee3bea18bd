"""Shared pieces of the benchmarks: results, the emulator process, machine facts, statistics."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oos_emulator.process import EmulatorHandle

REPO = Path(__file__).resolve().parent.parent
ACCESS_KEY = "emulator-ak"
SECRET_KEY = "emulator-sk"


@dataclass
class Check:
    """One target of the issue next to what was measured."""

    target: str
    measured: str
    met: bool | None  # None: could not be measured in this run


@dataclass
class Section:
    """What one benchmark reports: a table of figures, its targets, and notes on misses."""

    title: str
    method: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers, for the smoke tests
    error: str | None = None  # set when the benchmark could not run


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, str]:
    """The facts BENCHMARKS.md states about the box that produced the figures."""
    mem_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    import airflow

    cpu = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": cpu or platform.processor() or "unknown",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "airflow": airflow.__version__,
        "os": f"{platform.system()} {platform.release()}",
    }


def conn_json(url: str) -> str:
    """An `AIRFLOW_CONN_…` value (JSON) pointing at a local emulator."""
    return json.dumps({"conn_type": "baidu_oos", "login": ACCESS_KEY, "password": SECRET_KEY, "host": url})


class Emulator(EmulatorHandle):
    """A CLI-started emulator in its own process (its CPU is not counted as the client's)."""

    def get_calls(self) -> int:
        """GET /v2/execution calls served so far (from `GET /emulator/stats`)."""
        requests = self.admin("GET", "stats")["requests"]
        return sum(
            count
            for key, count in requests.items()
            if key.startswith("GET ") and key.endswith("/v2/execution")
        )

    def cpu_seconds(self) -> float:
        """CPU time used by the emulator process so far (user + system)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def emulator(time_scale: float = 1.0) -> Iterator[Emulator]:
    """Start `python -m oos_emulator --port 0` and stop it with SIGTERM."""
    server = Emulator(time_scale=time_scale, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


class Child:
    """`python -m module --out FILE args…` in a fresh interpreter; `result()` returns FILE's JSON.

    The child's own log lines go to a file (named in the error if the child fails), not to
    the terminal: the hook logs every call, and tens of thousands of lines would drown the figures.
    """

    def __init__(self, module: str, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        import tempfile

        self.module = module
        self._tmp = tempfile.TemporaryDirectory(prefix="oos-bench-")
        self.dir = Path(self._tmp.name)
        self.out = self.dir / "result.json"
        self.log_path = Path(tempfile.gettempdir()) / f"oos-bench-{module.rsplit('.', 1)[-1]}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - lives as long as the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--out", str(self.out), *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def result(self, timeout: float) -> Any:
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(
                f"{self.module} did not finish in {timeout:.0f} s; log {self.log_path}"
            ) from None
        finally:
            self._log.close()
        try:
            if returncode != 0 or not self.out.exists():
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"{self.module} failed (exit {returncode}); log {self.log_path}:\n{tail}")
            return json.loads(self.out.read_text())
        finally:
            self._tmp.cleanup()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
        self._tmp.cleanup()


def run_child(
    module: str, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> Any:
    """Run a benchmark child to completion and return its JSON result."""
    return Child(module, args, env).result(timeout)
