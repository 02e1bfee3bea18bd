"""Hook throughput: `OosHook.get_execution` req/s vs the official SDK's `OosClient.get_execution_detail`.

Both clients read the same execution from the same CLI-started emulator, sequentially (one
request at a time), in alternating rounds of a few seconds each (ours, official, official,
ours, ...) so that drift of a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import ACCESS_KEY, SECRET_KEY, Check, Section, conn_json, emulator, fmt, run_child

TARGET = 1.5
OURS = "OosHook.get_execution"
OFFICIAL = "official OosClient.get_execution_detail"
# Floors, for the analysis: the same signed GET with nothing of the hook around it (no request
# id, deadline-bounded body read, model, log line or retries), sent the way the hook sends it
# (a prepared request through `requests.Session.send`), and over the `urllib3` pool beneath it.
REQUESTS_FLOOR = "floor: requests, prepared signed GET via Session.send, keep-alive, body only"
URLLIB3_FLOOR = "floor: urllib3.PoolManager.request, signed, keep-alive, body only"
VARIANTS = (OURS, OFFICIAL, REQUESTS_FLOOR, URLLIB3_FLOOR)
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


def _floors(hook: Any, execution_id: str) -> dict[str, Callable[[str], object]]:
    import requests
    import urllib3

    from airflow_provider_oos.client.auth import BceAuth, signed_headers

    credentials = hook.config.credentials
    url = f"{hook.config.api_url}/v2/execution?id="
    session = requests.Session()
    session.trust_env = False
    session.auth = BceAuth(credentials)
    pool = urllib3.PoolManager()

    def bare_requests(execution_id: str) -> bytes:
        request = requests.PreparedRequest()
        request.prepare(method="GET", url=url + execution_id, headers=session.headers, auth=session.auth)
        return session.send(request, timeout=30).content

    def bare_urllib3(execution_id: str) -> bytes:
        target = url + execution_id
        return pool.request("GET", target, headers=signed_headers(credentials, "GET", target)).data

    return {REQUESTS_FLOOR: bare_requests, URLLIB3_FLOOR: bare_urllib3}


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
    from benchmarks.profiling import cpu_profile

    hook, execution_id = _ours(url)
    official = _official(url)
    calls: dict[str, Callable[[str], object]] = {
        OURS: hook.get_execution,
        OFFICIAL: official,
        **_floors(hook, execution_id),
    }
    try:
        # Each must really read the execution, or the comparison is void.
        hook.get_execution(execution_id)
        official_answer = official(execution_id)
        official_id = getattr(getattr(official_answer, "result", None), "id", None)
        if official_id != execution_id:
            raise AssertionError(f"official client did not read {execution_id}: {official_answer!r}")
        for name in (REQUESTS_FLOOR, URLLIB3_FLOOR):
            answer = json.loads(calls[name](execution_id))  # type: ignore[arg-type]
            if answer.get("result", {}).get("id") != execution_id:
                raise AssertionError(f"{name} did not read {execution_id}: {answer!r}")
        totals = {name: [0, 0.0, 0.0] for name in VARIANTS}
        for index in range(rounds):
            names = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
            for name in names:
                count, elapsed, cpu = _loop(calls[name], execution_id, seconds)
                for slot, value in enumerate((count, elapsed, cpu)):
                    totals[name][slot] += value
        profile = cpu_profile(lambda: hook.get_execution(execution_id), min(2 * seconds, 2.0))
        floor_profile = cpu_profile(lambda: calls[REQUESTS_FLOOR](execution_id), min(2 * seconds, 2.0))
    finally:
        hook.close()
    clients = {
        name: {"calls": count, "rps": count / wall, "cpu_ms_per_call": cpu / count * 1000}
        for name, (count, wall, cpu) in totals.items()
    }
    async_costs = asyncio.run(_async_costs(execution_id, 20 if seconds < 1 else 300))
    return {"clients": clients, "async": async_costs, "profile": profile, "floor_profile": floor_profile}


async def _async_costs(execution_id: str, calls: int) -> dict[str, float]:
    """Context for the waiting benchmark: the trigger's two costs, measured apart.

    `poll_cpu_ms`: CPU per `OosAsyncHook.get_execution` on a warm pooled session (the steady cost
    of one poll); `lookup_cpu_ms`: CPU of `get_config()` on a new hook (what each trigger run pays
    for its connection: the lookup and parse are shared by the hooks of one event loop).
    """
    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.hooks.oos_async import OosAsyncHook

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
    from benchmarks.profiling import describe, describe_difference

    # Many short alternating rounds: a burst of load from other work on a shared box then hits
    # every client alike instead of one client's long round.
    seconds, rounds = (0.3, 2) if smoke else (1.0, 12)
    with emulator() as server:
        cpu_before = server.cpu_seconds()
        measured = run_child(
            __name__, ["--url", server.url, "--seconds", str(seconds), "--rounds", str(rounds)]
        )
        emulator_cpu = server.cpu_seconds() - cpu_before
    result, async_costs, profile = measured["clients"], measured["async"], measured["profile"]
    official_rps = result[OFFICIAL]["rps"]
    ratio = result[OURS]["rps"] / official_rps
    ratios = {name: values["rps"] / official_rps for name, values in result.items()}
    total_calls = sum(variant["calls"] for variant in result.values())
    emulator_ms = emulator_cpu / max(total_calls, 1) * 1000
    section = Section(
        title="Hook throughput (sequential GET execution)",
        method=(
            f"One CLI-started emulator; one execution; {rounds} alternating rounds of {seconds:g} s per "
            "client, one request at a time, in a fresh interpreter. `OosHook` keeps a pooled "
            "`requests.Session` (keep-alive) and writes its per-call line at DEBUG (a task log at INFO "
            "filters it out, as Airflow's logger does here); the "
            "official `OosClient` opens a new `http.client` connection per request (its design) and logs "
            "at DEBUG. The two floors send the same signed GET and only read the body: what `requests` "
            "and `urllib3` cost with nothing of the hook around them. Client CPU is the benchmark "
            "process's CPU time per call; the emulator's CPU (separate process) was "
            f"{emulator_ms:.2f} ms per call."
        ),
        headers=["client", "requests/s", "vs official", "client CPU ms/call", "calls"],
        rows=[
            [
                name,
                fmt(values["rps"], 0),
                f"{ratios[name]:.2f}x",
                fmt(values["cpu_ms_per_call"], 3),
                str(values["calls"]),
            ]
            for name, values in result.items()
        ],
        data={
            "clients": result,
            "ratio": ratio,
            "ratios": ratios,
            "async": async_costs,
            "profile": profile,
            "floor_profile": measured["floor_profile"],
            "emulator_cpu_ms_per_call": emulator_ms,
        },
    )
    section.checks = [
        # Three decimals: 1.497x must not read as 1.50x next to a 1.5x target.
        Check(f"OosHook >= {TARGET:g}x the official client", f"{ratio:.3f}x", ratio >= TARGET),
    ]
    section.rows.append(
        [
            "OosAsyncHook (trigger): CPU ms per poll on a warm pool; per new hook's get_config() "
            "(the lookup is shared per event loop for 30 s)",
            "",
            "",
            f"{fmt(async_costs['poll_cpu_ms'], 3)}; {fmt(async_costs['lookup_cpu_ms'], 3)}",
            "",
        ]
    )
    section.notes.append(
        "Done in transport.py (issue 15): the per-call line is DEBUG for an answer below 400, so a "
        "call no longer renders and writes an INFO line through Airflow's structlog chain (in the "
        "run before, 0.55 ms of 1.46 ms profiled above the floor, the largest single part); an "
        "error answer or no answer is still a WARNING line naming method, path, status and "
        "request id."
    )
    section.notes.append(
        "Done in hooks/oos.py and transport.py: the first attempt of a call runs outside tenacity "
        "(a failure is replayed into `Retrying`, which then counts, logs, waits and stops as "
        "before), so a call that succeeds builds no retry machinery; the request is prepared by "
        "the hook and sent through the session (`Session.send`: same pool, auth, proxies and TLS "
        "settings) instead of `Session.request`, which merges cookies, hooks and settings on every "
        "call (its `to_key_val_list` runs a runtime-checkable Protocol `isinstance` per setting); "
        "the proxy and CA environment is read once per session."
    )
    section.notes.append(f"Profile of `OosHook.get_execution`: {describe(profile, 'call')}.")
    section.notes.append(
        "What the hook spends above the `requests` floor (OosHook minus the floor): "
        f"{describe_difference(profile, measured['floor_profile'], 'call')}."
    )
    if ratio < TARGET:
        ours, floor = result[OURS], result[REQUESTS_FLOOR]
        budget_ms = 1000 / (official_rps * TARGET)
        section.notes.append(
            f"Why missed: 1.5x means at most {budget_ms:.2f} ms per sequential call here; OosHook took "
            f"{1000 / ours['rps']:.2f} ms ({ours['cpu_ms_per_call']:.2f} ms of it client CPU; the "
            f"emulator, a separate process, spent {emulator_ms:.2f} ms per call). The `requests` floor "
            f"(the same signed GET sent the same way, body only) reached {ratios[REQUESTS_FLOOR]:.2f}x "
            f"and the `urllib3` floor {ratios[URLLIB3_FLOOR]:.2f}x in this run. "
            + (
                "So `requests` alone, with every cost of the hook removed, does not reach 1.5x on "
                "this machine: the target needs another transport than the `requests` the project "
                "chose for the sync hook (`urllib3` directly would have the room)."
                if ratios[REQUESTS_FLOOR] < TARGET
                else f"The gap is the hook's own work per call, "
                f"{ours['cpu_ms_per_call'] - floor['cpu_ms_per_call']:.2f} ms of CPU above the floor: "
                "the tolerant model of the answer (JSON and pydantic: the floor reads bytes only), "
                "the deadline-bounded body read (the guard against a server that dribbles bytes), "
                "the request id; each is a requirement with its own test (profile of the "
                "difference above)."
            )
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
