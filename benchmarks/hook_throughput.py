"""Hook throughput: `OosHook.get_execution` req/s vs the official SDK's `OosClient.get_execution_detail`.

Both clients read the same execution from the same CLI-started emulator, sequentially (one
request at a time), in alternating rounds of a few seconds each (ours, official, official,
ours, ...) so that drift of a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import ACCESS_KEY, SECRET_KEY, Check, Section, conn_json, emulator, fmt, run_child

TARGET = 1.5
OURS = "OosHook.get_execution"
OURS_QUIET = "OosHook.get_execution, per-call INFO line muted"
OFFICIAL = "official OosClient.get_execution_detail"
# What the hook would do with the two fixes proposed in BENCHMARKS.md, applied from outside.
OURS_TUNED = "OosHook.get_execution, INFO line muted + session.trust_env=False"
VARIANTS = (OURS, OFFICIAL, OURS_QUIET, OURS_TUNED)
CONN_ENV = "AIRFLOW_CONN_OOS_BENCH_HOOK"
QUICK_TEMPLATE = {
    "name": "bench-hook-throughput",
    "linear": True,
    "operators": [
        {
            "name": "noop",
            "operator": "BCE::Agent::ExecuteShell",
            "retries": 0,
            "retryInterval": 1000,
            "timeout": 60_000,
            "properties": {"content": "echo bench\n# emulator: sleep 0"},
        }
    ],
}


def _ours(url: str) -> tuple[Any, str]:
    from airflow_provider_oos.hooks.oos import OosHook

    os.environ[CONN_ENV] = conn_json(url)
    hook = OosHook(oos_conn_id="oos_bench_hook")
    execution_id = hook.create_execution(QUICK_TEMPLATE, description="hook throughput benchmark")
    return hook, execution_id


def _official(url: str) -> Callable[[str], object]:
    from baidubce import protocol
    from baidubce.auth.bce_credentials import BceCredentials
    from baidubce.bce_client_configuration import BceClientConfiguration
    from baidubce.services.oos.oos_client import OosClient

    config = BceClientConfiguration(
        credentials=BceCredentials(ACCESS_KEY.encode(), SECRET_KEY.encode()),
        endpoint=url.removeprefix("http://").encode(),
        protocol=protocol.HTTP,
    )
    get_execution_detail: Callable[[str], object] = OosClient(config).get_execution_detail
    return get_execution_detail


def _loop(call: Callable[[str], object], execution_id: str, seconds: float) -> tuple[int, float, float]:
    calls = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        call(execution_id)
        calls += 1
    return calls, time.perf_counter() - started, time.process_time() - cpu_started


def measure(url: str, seconds: float, rounds: int) -> dict[str, Any]:
    """Alternating rounds; per client: calls, wall seconds, client CPU seconds."""
    hook, execution_id = _ours(url)
    ours, close = hook.get_execution, hook.close
    # requests re-reads every proxy variable of os.environ on each call unless trust_env is off;
    # a second hook shows what resolving that once per session would save.
    tuned_hook, _ = _ours(url)
    tuned_hook.session.trust_env = False
    official = _official(url)
    hook_logger = logging.getLogger("airflow.task.hooks.airflow_provider_oos.hooks.oos.OosHook")
    try:
        # Both must really read the execution, or the comparison is void.
        ours(execution_id)
        official_answer = official(execution_id)
        official_id = getattr(getattr(official_answer, "result", None), "id", None)
        if official_id != execution_id:
            raise AssertionError(f"official client did not read {execution_id}: {official_answer!r}")
        totals = {name: [0, 0.0, 0.0] for name in VARIANTS}
        for index in range(rounds):
            names = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
            for name in names:
                call = {OFFICIAL: official, OURS_TUNED: tuned_hook.get_execution}.get(name, ours)
                # "as shipped" keeps the hook's one INFO line per call (what a task log gets).
                muted = name in (OURS_QUIET, OURS_TUNED)
                hook_logger.setLevel(logging.WARNING if muted else logging.NOTSET)
                calls, elapsed, cpu = _loop(call, execution_id, seconds)
                for slot, value in enumerate((calls, elapsed, cpu)):
                    totals[name][slot] += value
    finally:
        hook_logger.setLevel(logging.NOTSET)
        close()
        tuned_hook.close()
    clients = {
        name: {"calls": calls, "rps": calls / wall, "cpu_ms_per_call": cpu / calls * 1000}
        for name, (calls, wall, cpu) in totals.items()
    }
    return {"clients": clients, "async": asyncio.run(_async_costs(execution_id, 20 if seconds < 1 else 300))}


async def _async_costs(execution_id: str, calls: int) -> dict[str, float]:
    """Context for the waiting benchmark: the trigger's two costs, measured apart.

    `poll_cpu_ms`: CPU per `OosAsyncHook.get_execution` on a warm pooled session (the steady cost
    of one poll); `lookup_cpu_ms`: CPU of `get_config()` on a new hook (connection lookup and
    parsing, paid once per trigger run).
    """
    from airflow_provider_oos.hooks.oos import OosAsyncHook
    from airflow_provider_oos.session_pool import close_all_sessions

    hook = OosAsyncHook(oos_conn_id="oos_bench_hook")
    await hook.get_execution(execution_id)  # warm: pooled session, connection
    started = time.process_time()
    for _ in range(calls):
        await hook.get_execution(execution_id)
    poll_cpu = (time.process_time() - started) / calls
    started = time.process_time()
    for _ in range(calls):
        await OosAsyncHook(oos_conn_id="oos_bench_hook").get_config()
    lookup_cpu = (time.process_time() - started) / calls
    await close_all_sessions()
    return {"poll_cpu_ms": poll_cpu * 1000, "lookup_cpu_ms": lookup_cpu * 1000}


def run(smoke: bool = False) -> Section:
    seconds, rounds = (0.3, 2) if smoke else (3.0, 4)
    with emulator() as server:
        cpu_before = server.cpu_seconds()
        measured = run_child(
            __name__, ["--url", server.url, "--seconds", str(seconds), "--rounds", str(rounds)]
        )
        emulator_cpu = server.cpu_seconds() - cpu_before
    result, async_costs = measured["clients"], measured["async"]
    ratio = result[OURS]["rps"] / result[OFFICIAL]["rps"]
    ratio_quiet = result[OURS_QUIET]["rps"] / result[OFFICIAL]["rps"]
    ratio_tuned = result[OURS_TUNED]["rps"] / result[OFFICIAL]["rps"]
    total_calls = sum(variant["calls"] for variant in result.values())
    emulator_ms = emulator_cpu / max(total_calls, 1) * 1000
    section = Section(
        title="Hook throughput (sequential GET execution)",
        method=(
            f"One CLI-started emulator; one execution; {rounds} alternating rounds of {seconds:g} s per "
            "client, one request at a time, in a fresh interpreter. `OosHook` keeps a pooled "
            "`requests.Session` (keep-alive) and logs one INFO line per call (as in a task log); the "
            "official `OosClient` opens a new `http.client` connection per request (its design) and logs "
            "at DEBUG. Client CPU is the benchmark process's CPU time per call; the emulator's CPU "
            f"(separate process) was {emulator_ms:.2f} ms per call. The last two OosHook rows apply "
            "the proposed fixes from outside (logger level; `session.trust_env = False`)."
        ),
        headers=["client", "requests/s", "client CPU ms/call", "calls"],
        rows=[
            [name, fmt(values["rps"], 0), fmt(values["cpu_ms_per_call"], 3), str(values["calls"])]
            for name, values in result.items()
        ],
        data={
            "clients": result,
            "ratio": ratio,
            "ratio_quiet": ratio_quiet,
            "ratio_tuned": ratio_tuned,
            "async": async_costs,
            "emulator_cpu_ms_per_call": emulator_ms,
        },
    )
    section.checks = [
        Check(f"OosHook >= {TARGET:g}x the official client", f"{ratio:.2f}x", ratio >= TARGET),
    ]
    section.rows.append(
        [
            "ratio to official: as shipped; INFO muted; INFO muted + trust_env off",
            f"{ratio:.2f}x; {ratio_quiet:.2f}x; {ratio_tuned:.2f}x",
            "",
            "",
        ]
    )
    section.rows.append(
        [
            "OosAsyncHook (trigger): CPU ms per poll on a warm pool; per connection lookup",
            "",
            f"{fmt(async_costs['poll_cpu_ms'], 3)}; {fmt(async_costs['lookup_cpu_ms'], 3)}",
            "",
        ]
    )
    if ratio < TARGET:
        ours_cpu = result[OURS]["cpu_ms_per_call"]
        official_cpu = result[OFFICIAL]["cpu_ms_per_call"]
        section.notes.append(
            f"Why: a sequential call costs client CPU + emulator CPU ({emulator_ms:.2f} ms here, same "
            f"for both) + two loopback hops. OosHook spends {ours_cpu:.2f} ms of client CPU per call "
            f"against {official_cpu:.2f} ms for the official client: `requests` prepares each "
            "request in Python (hooks, adapters, cookie and header merging), the hook writes one INFO "
            "log line per HTTP call (asked for: one line per call), and tenacity wraps each call. "
            "1.5x needs our whole round trip at two thirds of the official one."
        )
        section.notes.append(
            "Done in hooks/oos.py: the session reads the proxy and CA environment once "
            "(`trust_env` off) instead of scanning `os.environ` on every call. The last rows mute the "
            f"INFO line and force trust_env off from outside: {ratio_quiet:.2f}x and "
            f"{ratio_tuned:.2f}x in this run, so neither is the gap. What would close it: "
            "`urllib3.PoolManager` directly instead of `requests` (its per-call preparation is most "
            "of our client CPU) and tenacity kept out of the no-error path; the project chose "
            "`requests` for the sync hook, so this is left open."
        )
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    args = parser.parse_args()
    result = measure(args.url, args.seconds, args.rounds)
    with open(args.out, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
