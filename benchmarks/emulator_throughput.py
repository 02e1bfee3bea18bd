"""Signed GET-execution throughput of the OOS emulator, measured with keep-alive clients.

Starts the emulator CLI as its own process and creates one execution. Then `clients` keep-alive
connections (aiohttp, one event loop, each connection polling in turn) send
`GET /api/logic/oos/v2/execution` with a fresh bce-auth-v1 signature per request, as the
provider's trigger does. Reported: requests/s, p50/p99 latency, and the emulator's own CPU time
per request (from /proc), which does not depend on what else runs on the machine.

The target is >= 300 requests/s: 10,000 waiting tasks polling every 30 s need 333/s.

    python -m benchmarks.emulator_throughput [seconds] [clients]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any

import aiohttp
import requests
from oos_emulator.process import EmulatorHandle, start_emulator

from airflow_provider_oos.client.auth import BceCredentials, signed_headers

TARGET_REQUESTS_PER_SECOND = 300
DEFAULT_CLIENTS = 8


def _create_execution(url: str, credentials: BceCredentials) -> str:
    create_url = f"{url}/api/logic/oos/v2/execution"
    template = {
        "name": "bench",
        "linear": True,
        "operators": [
            {"name": f"step{i}", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "uptime"}}
            for i in range(3)
        ],
    }
    response = requests.post(
        create_url,
        json={"template": template},
        headers=signed_headers(credentials, "POST", create_url),
        timeout=10,
    )
    response.raise_for_status()
    execution_id: str = response.json()["result"]["id"]
    return execution_id


def _cpu_seconds(pid: int) -> float | None:
    """user + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _poll_all(
    url: str, credentials: BceCredentials, seconds: float, clients: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(stop_at: float) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                async with session.get(url, headers=signed_headers(credentials, "GET", url)) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200 or b'"success":true' not in body:
                    errors += 1

        await asyncio.gather(*(client(time.perf_counter() + 0.2) for _ in range(clients)))  # warm up
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(client(started + seconds) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def run(
    seconds: float = 5.0, clients: int = DEFAULT_CLIENTS, emulator: EmulatorHandle | None = None
) -> dict[str, Any]:
    """Measure for `seconds` with `clients` keep-alive connections; return the figures.

    Starts its own emulator (CLI process) unless a running one is given.
    """
    own = emulator is None
    emulator = start_emulator(time_scale=0.01) if emulator is None else emulator
    try:
        assert emulator.process is not None
        credentials = BceCredentials(emulator.access_key, emulator.secret_key)
        execution_id = _create_execution(emulator.url, credentials)
        url = f"{emulator.url}/api/logic/oos/v2/execution?id={execution_id}"
        cpu_before = _cpu_seconds(emulator.process.pid)
        latencies, errors, elapsed = asyncio.run(_poll_all(url, credentials, seconds, clients))
        cpu_after = _cpu_seconds(emulator.process.pid)
    finally:
        if own:
            emulator.stop()
    latencies.sort()
    count = len(latencies)
    server_cpu_ms = (
        round((cpu_after - cpu_before) * 1000 / count, 3)
        if count and cpu_before is not None and cpu_after is not None
        else None
    )
    return {
        "requests": count,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "clients": clients,
        "requests_per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 2) if latencies else None,
        # CPU the emulator spent per answer; 1000 / this = requests/s one free core could serve.
        "server_cpu_ms_per_request": server_cpu_ms,
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "target_requests_per_second": TARGET_REQUESTS_PER_SECOND,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else 5.0
    clients = int(args[1]) if len(args) > 1 else DEFAULT_CLIENTS
    figures = run(seconds, clients)
    print(
        f"emulator signed GET execution: {figures['requests_per_second']} requests/s "
        f"({figures['requests']} requests, {figures['errors']} errors, "
        f"{figures['clients']} keep-alive clients, {figures['seconds']} s), "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"emulator CPU {figures['server_cpu_ms_per_request']} ms/request, "
        f"load average {figures['load_average']} (target >= {TARGET_REQUESTS_PER_SECOND}/s)"
    )
    return 0 if figures["requests_per_second"] >= TARGET_REQUESTS_PER_SECOND and not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
