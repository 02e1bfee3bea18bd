"""Signed GET-execution throughput of the OOS emulator, measured with keep-alive clients.

Starts the emulator CLI as its own process, creates one execution, then several threads, each
with its own `requests.Session` (keep-alive), poll `GET /api/logic/oos/v2/execution` with a fresh
bce-auth-v1 signature per request. The target is >= 300 requests/s: 10,000 waiting tasks polling
every 30 s need 333/s, and the real service is polled far less than that per client.

    python -m benchmarks.emulator_throughput [seconds] [clients]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

import requests

from airflow_provider_oos.auth import BceCredentials, signed_headers
from airflow_provider_oos.emulator.process import start_emulator

TARGET_REQUESTS_PER_SECOND = 300
DEFAULT_CLIENTS = 4


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


def _poll(
    url: str, credentials: BceCredentials, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    with requests.Session() as session:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            response = session.get(url, headers=signed_headers(credentials, "GET", url), timeout=10)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or b'"success":true' not in response.content:
                errors.append(response.status_code)


def run(seconds: float = 5.0, clients: int = DEFAULT_CLIENTS) -> dict[str, Any]:
    """Measure for `seconds` with `clients` keep-alive sessions; return the figures."""
    emulator = start_emulator(time_scale=0.01)
    try:
        credentials = BceCredentials(emulator.access_key, emulator.secret_key)
        execution_id = _create_execution(emulator.url, credentials)
        url = f"{emulator.url}/api/logic/oos/v2/execution?id={execution_id}"
        per_client: list[list[float]] = [[] for _ in range(clients)]
        errors: list[int] = []
        started = time.perf_counter()
        stop_at = started + seconds
        threads = [
            threading.Thread(target=_poll, args=(url, credentials, stop_at, per_client[i], errors))
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        emulator.stop()
    latencies = sorted(x for chunk in per_client for x in chunk)
    count = len(latencies)
    return {
        "requests": count,
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "clients": clients,
        "requests_per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 2) if latencies else None,
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
        f"{figures['clients']} keep-alive clients, "
        f"{figures['seconds']} s), p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms "
        f"(target >= {TARGET_REQUESTS_PER_SECOND}/s)"
    )
    return 0 if figures["requests_per_second"] >= TARGET_REQUESTS_PER_SECOND and not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
