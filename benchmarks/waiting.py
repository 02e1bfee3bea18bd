"""Waiting at scale: N concurrent `OosExecutionTrigger.run()` in one asyncio loop (as in one triggerer).

Per N and per variant, against a CLI-started emulator (its CPU is not the client's):
1. a fresh interpreter imports what a triggerer has loaded, then the parent creates N
   executions (signed POSTs, setup, not measured), each one ExecuteShell step with
   `# emulator: sleep S`, and streams their ids to it; wait k starts at t0 + poll * k / N
   and its execution finishes 1 to 2 poll intervals later (evenly spread phases);
2. that interpreter runs the N waits in ONE event loop, then reports its RSS growth, its CPU
   time, the TCP connections it opened (counted by wrapping the loop's `create_connection`,
   which aiohttp uses for every new connection) and when each event arrived;
3. the parent reads the GET count from `GET /emulator/stats` for CPU per poll.

Variants: `pooled` = our `OosExecutionTrigger` (one shared aiohttp pool per loop and
connection); `naive` = a trigger that opens a new `aiohttp.ClientSession` per poll, as several
official providers do (written here, otherwise the same work: sign, GET, parse the model).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ACCESS_KEY,
    SECRET_KEY,
    Check,
    Child,
    Emulator,
    Section,
    conn_json,
    emulator,
    fmt,
    percentile,
)

# (N, emulator time scale): the poll interval is 30 s x the time scale: 10 s for N=1,000 (100
# polls/s), 30 s unscaled for N=10,000 (333 polls/s, what the emulator benchmark shows it serves).
FULL_SIZES = ((1_000, 1 / 3), (10_000, 1.0))
SMOKE_SIZES = ((20, 0.02),)
# The profiles shown next to a missed target: a smaller run of the same waits, once under cProfile
# and once under tracemalloc, at a rate (50 polls/s) the slowed-down process still keeps up with,
# so each wait polls 2-3 times as in the measured runs.
PROFILE_SIZE = (500, 1 / 3)
SMOKE_PROFILE_SIZE = (10, 0.02)
BASE_POLL_SECONDS = 30.0
TARGET_KB_PER_WAIT = 12.0
TARGET_CPU_MS_PER_POLL = 1.0
TARGET_LATENCY_SLACK = 1.0  # p99 detection latency within poll interval + 1 s
POOL_LIMIT = 100  # OosAsyncHook's TCPConnector(limit=100)
VARIANTS = ("pooled", "naive")
# Creating executions is setup, not measured; stop (and report fewer waits) if it drags on.
CREATE_BUDGET_SECONDS = 120.0


def _template(sleep_seconds: float) -> dict[str, Any]:
    return {
        "name": "bench-waiting",
        "linear": True,
        "operators": [
            {
                "name": "work",
                "operator": "BCE::Agent::ExecuteShell",
                "retries": 0,
                "retryInterval": 1000,
                "timeout": 3_600_000,
                "properties": {"content": f"echo waiting\n# emulator: sleep {sleep_seconds:.3f}"},
            }
        ],
    }


def _fraction(index: int) -> float:
    """An even, deterministic spread over [0, 1) (golden-ratio sequence)."""
    return (index * 0.6180339887498949) % 1.0


async def _create_streaming(
    url: str, count: int, time_scale: float, ids_path: Path, budget_seconds: float
) -> int:
    """Create up to `count` executions, appending each id to `ids_path` as soon as it exists.

    The waiting process starts wait k at t0 + poll * k / count (a triggerer receives deferred
    tasks over time, not all at once), and execution k finishes 1 to 2 poll intervals after its
    wait starts, evenly spread, so each wait polls two or three times and finishes at a random phase
    of its poll cycle. Stops early (and says so) if creating takes longer than `budget_seconds`.
    """
    import aiohttp

    from airflow_provider_oos.client.auth import BceCredentials, signed_headers

    credentials = BceCredentials(ACCESS_KEY, SECRET_KEY)
    endpoint = f"{url}/api/logic/oos/v2/execution"
    poll = BASE_POLL_SECONDS * time_scale
    created = 0
    started = time.time()
    next_index = 0

    with open(ids_path, "a") as ids_file:

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal created, next_index
            while next_index < count and time.time() - started < budget_seconds:
                index = next_index
                next_index += 1
                start_at = max(time.time(), started + poll * index / count)
                finish_at = start_at + poll * (1.0 + _fraction(index))
                template = _template((finish_at - time.time()) / time_scale)
                body = json.dumps({"template": template, "description": f"bench wait {index}"})
                headers = signed_headers(credentials, "POST", endpoint)
                headers["Content-Type"] = "application/json;charset=utf-8"
                async with session.post(endpoint, data=body, headers=headers) as response:
                    answer = await response.json(content_type=None)
                if not answer.get("success"):
                    raise RuntimeError(f"create execution failed: {answer}")
                ids_file.write(f"{answer['result']['id']}\n")
                ids_file.flush()
                created += 1

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session) for _ in range(16)))
        give_up_at = time.time() + 4 * poll + 60
        ids_file.write(f"END {give_up_at} {count}\n")
    return created


# --- the waiting process ---------------------------------------------------------------------------


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class NaiveTrigger:
    """The alternative: a new HTTP client (aiohttp.ClientSession) per poll, same signing and parsing."""

    def __init__(self, execution_id: str, connection: dict[str, Any], poll_interval: float) -> None:
        self.execution_id = execution_id
        self.connection = connection
        self.poll_interval = poll_interval
        self.errors = 0

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        import aiohttp

        from airflow_provider_oos.client.auth import BceCredentials, signed_headers
        from airflow_provider_oos.client.models import Execution, is_final, is_successful

        credentials = BceCredentials(self.connection["login"], self.connection["password"])
        url = f"{self.connection['host']}/api/logic/oos/v2/execution?id={self.execution_id}"
        while True:
            try:
                async with aiohttp.ClientSession() as session:
                    headers = signed_headers(credentials, "GET", url)
                    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(60)) as answer:
                        body = await answer.json(content_type=None)
                execution = Execution.model_validate(body["result"])
            except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError):
                self.errors += 1
            else:
                if is_final(execution.state):
                    status = "success" if is_successful(execution.state) else "failed"
                    # The trigger's event shape: the state and the finish time, not the whole execution.
                    yield {
                        "status": status,
                        "state": execution.state,
                        "finished_timestamp": execution.finished_timestamp,
                    }
                    return
            await asyncio.sleep(self.poll_interval)


async def _wait_all(ids_path: Path, variant: str, poll_interval: float, profile: str = "") -> dict[str, Any]:
    """Start one wait per id as the parent appends ids to `ids_path`; all in this one event loop.

    `profile="memory"` traces allocations and keeps the snapshot taken when the most waits were
    active (see benchmarks.profiling); the CPU profile is taken around this whole coroutine.
    """
    import aiohttp  # noqa: F401 - imported before the baseline, as a triggerer has it loaded

    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger

    loop = asyncio.get_running_loop()
    transports: list[Any] = []
    opened = 0
    original_create_connection = loop.create_connection

    async def counting_create_connection(*args: Any, **kwargs: Any) -> Any:
        nonlocal opened
        transport, protocol = await original_create_connection(*args, **kwargs)
        opened += 1
        transports.append(transport)
        return transport, protocol

    loop.create_connection = counting_create_connection  # type: ignore[method-assign]
    connection = json.loads(os.environ["AIRFLOW_CONN_OOS_DEFAULT"])
    naive: list[NaiveTrigger] = []

    def new_wait(execution_id: str) -> AsyncIterator[Any]:
        if variant == "pooled":
            return OosExecutionTrigger(execution_id, "oos_default", poll_interval, None, "wait").run()
        trigger = NaiveTrigger(execution_id, connection, poll_interval)
        naive.append(trigger)
        return trigger.run()

    events: list[list[Any]] = []
    active = 0

    async def consume(start_at: float, execution_id: str) -> None:
        nonlocal active
        await asyncio.sleep(max(0.0, start_at - time.time()))
        active += 1
        generator = new_wait(execution_id)
        async for event in generator:
            received = time.time()
            payload = getattr(event, "payload", event)
            events.append([execution_id, payload.get("status"), received, payload.get("finished_timestamp")])
            break
        active -= 1
        await generator.aclose()  # type: ignore[attr-defined]

    gc.collect()
    tracing = profile == "memory"
    if tracing:
        import tracemalloc

        tracemalloc.start(1)
        traced_before = tracemalloc.take_snapshot()
    traced_peak: Any = None
    traced_active = 0
    baseline_kb = peak_kb = _rss_kb()
    peak_open = 0
    started = time.time()
    cpu_started = time.process_time()
    usage_started = resource.getrusage(resource.RUSAGE_SELF)

    async def sample() -> None:
        nonlocal peak_kb, peak_open, transports, traced_peak, traced_active
        while True:
            if tracing and active > traced_active * 1.02:
                gc.collect()
                traced_peak, traced_active = tracemalloc.take_snapshot(), active
            peak_kb = max(peak_kb, _rss_kb())
            transports = [t for t in transports if not t.is_closing()]
            peak_open = max(peak_open, len(transports))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    waits: list[asyncio.Task[None]] = []
    give_up_at: float | None = None
    planned = 0
    first_id_at: float | None = None
    with open(ids_path) as ids_file:
        buffer = ""
        while give_up_at is None:  # tail the file the parent is writing
            chunk = ids_file.read()
            if not chunk:
                await asyncio.sleep(0.05)
                continue
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                if line.startswith("END "):
                    _, give_up, planned_text = line.split()
                    give_up_at, planned = float(give_up), int(planned_text)
                    break
                first_id_at = first_id_at or time.time()
                # Mirrors the parent's plan: wait k starts at t0 + poll * k / N.
                start_at = first_id_at + poll_interval * len(waits) / PLANNED[0]
                waits.append(asyncio.create_task(consume(start_at, line)))
    _, pending = await asyncio.wait(waits, timeout=max(1.0, give_up_at - time.time())) if waits else ((), ())
    for task in pending:
        task.cancel()
    cpu_seconds = time.process_time() - cpu_started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.time() - started
    sampler.cancel()
    peak_kb = max(peak_kb, _rss_kb())
    if variant == "pooled":
        await close_all_sessions()
    memory: dict[str, Any] = {}
    if tracing and traced_peak is not None:
        from benchmarks.profiling import memory_by_component, memory_top_lines

        memory = {
            "active": traced_active,
            "components": memory_by_component(traced_before, traced_peak),
            "lines": memory_top_lines(traced_before, traced_peak, traced_active),
        }
        tracemalloc.stop()
    return {
        "memory_profile": memory,
        "count": len(waits),
        "planned": planned,
        "baseline_kb": baseline_kb,
        "peak_kb": peak_kb,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cpu_seconds": cpu_seconds,
        "user_cpu_seconds": usage.ru_utime - usage_started.ru_utime,
        "system_cpu_seconds": usage.ru_stime - usage_started.ru_stime,
        "wall_seconds": wall,
        "started": started,
        "connections_opened": opened,
        "peak_open_connections": peak_open,
        "events": events,
        "undetected": len(pending),
        "client_errors": sum(trigger.errors for trigger in naive),
    }


PLANNED = [1]  # N, set from the command line: the stagger of wait starts depends on it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--ids", required=True, help="file of ids the parent appends to, then END")
    parser.add_argument("--ready", required=True, help="touched once imports are done")
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--poll", type=float, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--profile", choices=("", "cpu", "memory"), default="")
    args = parser.parse_args()
    PLANNED[0] = args.count
    # Import what a running triggerer already has loaded, then let the parent create the executions.
    import aiohttp  # noqa: F401

    import airflow_provider_oos.hooks.oos_async
    import airflow_provider_oos.triggers.oos  # noqa: F401

    Path(args.ids).touch()
    Path(args.ready).touch()
    if args.profile == "cpu":
        from benchmarks.profiling import cpu_profiled, group_stats

        with cpu_profiled() as profile:
            result = asyncio.run(_wait_all(Path(args.ids), args.variant, args.poll))
        import pstats

        result["cpu_profile"] = group_stats(pstats.Stats(profile))
        if os.environ.get("OOS_BENCH_PROFILE_DUMP"):  # the raw profile, to dig further by hand
            profile.dump_stats(os.environ["OOS_BENCH_PROFILE_DUMP"])
    else:
        result = asyncio.run(_wait_all(Path(args.ids), args.variant, args.poll, args.profile))
    Path(args.out).write_text(json.dumps(result))


# --- the parent: orchestration and figures ----------------------------------------------------------


def measure(
    server: Emulator, count: int, time_scale: float, variant: str, profile: str = ""
) -> dict[str, Any]:
    poll = BASE_POLL_SECONDS * time_scale
    server.admin("POST", "reset")
    workdir = Path(tempfile.mkdtemp(prefix="oos-bench-wait-"))
    ids_path, ready_path = workdir / "ids.txt", workdir / "ready"
    args = ["--ids", str(ids_path), "--ready", str(ready_path), "--variant", variant]
    args += ["--poll", str(poll), "--count", str(count), "--profile", profile]
    child = Child(__name__, args, env={"AIRFLOW_CONN_OOS_DEFAULT": conn_json(server.url)})
    try:
        deadline = time.monotonic() + 300
        while not ready_path.exists():
            if child.process.poll() is not None or time.monotonic() > deadline:
                return dict(child.result(timeout=1))  # raises with the child's log
            time.sleep(0.1)
        calls_before = server.get_calls()
        emulator_cpu_before = server.cpu_seconds()
        create_started = time.time()
        created = asyncio.run(
            _create_streaming(server.url, count, time_scale, ids_path, CREATE_BUDGET_SECONDS)
        )
        create_seconds = time.time() - create_started
        result: dict[str, Any] = child.result(timeout=5 * poll + 400)
    except BaseException:
        child.kill()
        raise
    finally:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    polls = server.get_calls() - calls_before
    result.update(
        variant=variant,
        poll_interval=poll,
        time_scale=time_scale,
        polls=polls,
        created=created,
        create_seconds=create_seconds,
        emulator_cpu_seconds=server.cpu_seconds() - emulator_cpu_before,
    )
    return result


def profile_waits(count: int, time_scale: float) -> dict[str, Any]:
    """CPU per poll and memory per active wait by component, from two profiled runs of `count` waits."""
    from benchmarks.profiling import rank, rank_memory

    with emulator(time_scale=time_scale) as server:
        cpu_run = measure(server, count, time_scale, "pooled", profile="cpu")
        memory_run = measure(server, count, time_scale, "pooled", profile="memory")
    memory = memory_run["memory_profile"]
    active = memory.get("active", 0)
    return {
        "count": count,
        "poll_interval": BASE_POLL_SECONDS * time_scale,
        "cpu": rank(cpu_run["cpu_profile"], max(cpu_run["polls"], 1)),
        "memory": rank_memory(memory.get("components", {}), active),
        "memory_active_waits": active,
        "memory_lines": memory.get("lines", []),
    }


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    count = max(result["count"], 1)
    latencies = [
        received - finished_ms / 1000
        for _, status, received, finished_ms in result["events"]
        if finished_ms is not None
    ]
    polls = max(result["polls"], 1)
    return {
        "count": result["count"],
        "planned": result["planned"],
        "create_seconds": result["create_seconds"],
        "variant": result["variant"],
        "poll_interval": result["poll_interval"],
        "kb_per_wait": (result["peak_kb"] - result["baseline_kb"]) / count,
        "cpu_ms_per_poll": result["cpu_seconds"] / polls * 1000,
        "user_ms_per_poll": result["user_cpu_seconds"] / polls * 1000,
        "system_ms_per_poll": result["system_cpu_seconds"] / polls * 1000,
        "polls": result["polls"],
        "polls_per_wait": result["polls"] / count,
        "connections_opened": result["connections_opened"],
        "peak_open_connections": result["peak_open_connections"],
        "latency_p50": percentile(latencies, 0.5) if latencies else float("nan"),
        "latency_p99": percentile(latencies, 0.99) if latencies else float("nan"),
        "latency_samples": len(latencies),
        "events": len(result["events"]),
        "successes": sum(1 for event in result["events"] if event[1] == "success"),
        "undetected": result["undetected"],
        "client_errors": result["client_errors"],
        "wall_seconds": result["wall_seconds"],
        "emulator_cpu_ms_per_poll": result["emulator_cpu_seconds"] / polls * 1000,
        # Cores busy on average during the waits: is the client or the emulator the bottleneck?
        "client_cores": result["cpu_seconds"] / max(result["wall_seconds"], 1e-9),
        "emulator_cores": result["emulator_cpu_seconds"] / max(result["wall_seconds"], 1e-9),
    }


def run(smoke: bool = False, sizes: tuple[tuple[int, float], ...] | None = None) -> Section:
    sizes = sizes or (SMOKE_SIZES if smoke else FULL_SIZES)
    summaries: list[dict[str, Any]] = []
    for count, time_scale in sizes:
        with emulator(time_scale=time_scale) as server:
            for variant in VARIANTS:
                print(f"  waiting: N={count:,} {variant} ...", file=sys.stderr, flush=True)
                summaries.append(summarize(measure(server, count, time_scale, variant)))
    scales = ", ".join(f"N={count:,}: x{scale:g}" for count, scale in sizes)
    rate = sizes[-1][0] / (BASE_POLL_SECONDS * sizes[-1][1])
    section = Section(
        title="Waiting at scale (deferrable trigger)",
        method=(
            "N waits run as tasks of ONE asyncio loop in a fresh interpreter; their starts are spread "
            "over one poll interval and each execution finishes 1 to 2 poll intervals after its wait "
            "started (evenly spread), so each wait polls 2-3 times. Poll interval = 30 s x the "
            f"emulator's time scale ({scales}); the largest size asks ~{rate:.0f} polls/s of the "
            "emulator (a separate process). Memory = peak RSS during the waits minus RSS "
            "just before the triggers were built, over N; CPU per poll = the waiting process's CPU "
            "time (user + system) over the GET calls the emulator counted; connections = new TCP "
            "connections made by the loop; latency = event received minus the execution's "
            "`finishedTimestamp`."
        ),
        headers=[
            "N",
            "trigger",
            "poll s",
            "KB/wait",
            "CPU ms/poll (user + sys)",
            "polls/wait",
            "TCP opened (peak open)",
            "latency p50 / p99 s",
            "events ok / N",
        ],
        data={"summaries": summaries},
    )
    for s in summaries:
        section.rows.append(
            [
                f"{s['count']:,}" + ("" if s["count"] == s["planned"] else f" (of {s['planned']:,} planned)"),
                "OosExecutionTrigger (pooled)" if s["variant"] == "pooled" else "new ClientSession per poll",
                fmt(s["poll_interval"], 1),
                fmt(s["kb_per_wait"], 1),
                f"{fmt(s['cpu_ms_per_poll'], 2)} ({fmt(s['user_ms_per_poll'], 2)} + "
                f"{fmt(s['system_ms_per_poll'], 2)})",
                fmt(s["polls_per_wait"], 1),
                f"{s['connections_opened']:,} ({s['peak_open_connections']:,})",
                f"{fmt(s['latency_p50'])} / {fmt(s['latency_p99'])}",
                f"{s['successes']:,} / {s['count']:,}",
            ]
        )
    pooled = [s for s in summaries if s["variant"] == "pooled"]
    largest = max(pooled, key=lambda s: s["planned"])
    # Same planned size (creation may have stopped at a different count for each variant).
    naive_largest = next(
        s for s in summaries if s["variant"] == "naive" and s["planned"] == largest["planned"]
    )
    limit = largest["poll_interval"] + TARGET_LATENCY_SLACK
    short_of_plan = largest["count"] < largest["planned"]
    planned_note = f" (of {largest['planned']:,} planned)" if short_of_plan else ""
    bounded = (
        largest["peak_open_connections"] <= POOL_LIMIT and largest["connections_opened"] <= POOL_LIMIT * 3
    )
    section.checks = [
        Check(
            f"{largest['count']:,} waits{planned_note}: < {TARGET_KB_PER_WAIT:g} KB per wait",
            f"{fmt(largest['kb_per_wait'], 1)} KB",
            largest["kb_per_wait"] < TARGET_KB_PER_WAIT,
        ),
        Check(
            f"< {TARGET_CPU_MS_PER_POLL:g} ms CPU per poll",
            f"{fmt(largest['cpu_ms_per_poll'], 3)} ms (naive: {fmt(naive_largest['cpu_ms_per_poll'], 3)} ms)",
            largest["cpu_ms_per_poll"] < TARGET_CPU_MS_PER_POLL,
        ),
        Check(
            f"TCP connections bounded by the pool ({POOL_LIMIT}), not by N",
            f"{largest['connections_opened']:,} opened, {largest['peak_open_connections']:,} open at peak "
            f"(naive: {naive_largest['connections_opened']:,} opened)",
            bounded,
        ),
        Check(
            f"p99 detection latency <= poll interval + {TARGET_LATENCY_SLACK:g} s ({fmt(limit, 1)} s)",
            f"{fmt(largest['latency_p99'])} s (p50 {fmt(largest['latency_p50'])} s)",
            largest["latency_p99"] <= limit,
        ),
        Check(
            "every wait ends with its event",
            f"{sum(s['successes'] for s in pooled):,} / {sum(s['count'] for s in pooled):,} (pooled)",
            all(s["successes"] == s["count"] for s in pooled),
        ),
    ]
    short = [s for s in summaries if s["count"] < s["planned"]]
    if short:
        reached = ", ".join(f"{s['variant']} {s['count']:,} of {s['planned']:,}" for s in short)
        section.notes.append(
            f"Not every planned wait could be set up ({reached}) within the "
            f"{CREATE_BUDGET_SECONDS:g} s setup budget: the emulator created executions too slowly "
            "on this machine in this run; the figures are for the waits that were set up."
        )
    section.notes.append(
        "Done for the trigger: the hooks of one event loop share one connection lookup (30 s TTL, "
        "hooks/oos_async.py), so 10,000 triggers parse the connection once instead of 10,000 "
        "times; a poll that succeeds builds no tenacity machinery (the first attempt runs outside "
        "it, a failure is replayed into it); one shared `ClientTimeout`; between reads a wait "
        "keeps only the state and finish time of its last read (`WaitingStateMachine("
        "keep_last_read=False)`, the trigger loop drops the read before sleeping) instead of the "
        "parsed Execution; signing derives its key once per second (auth.py). Progress lines were "
        "already written only when what they say changes (state, tasks done, running step)."
    )
    memory_check, cpu_check, latency_check = section.checks[0], section.checks[1], section.checks[3]
    if smoke or memory_check.met is False or cpu_check.met is False:
        from benchmarks.profiling import describe, describe_memory

        size = SMOKE_PROFILE_SIZE if smoke else PROFILE_SIZE
        print(f"  waiting: profiles, N={size[0]:,} ...", file=sys.stderr, flush=True)
        profiles = profile_waits(*size)
        section.data["profiles"] = profiles
        where = (
            f"a profiled run of N={profiles['count']:,} waits polling every "
            f"{fmt(profiles['poll_interval'], 0)} s (same code)"
        )
        if memory_check.met is False or smoke:
            lines = "; ".join(f"{line} {size / 1024:.2f} KB" for line, size in profiles["memory_lines"][:6])
            section.notes.append(
                f"Why memory is over the line ({fmt(largest['kb_per_wait'], 1)} KB per wait, peak RSS "
                f"delta over N; RSS also holds allocator slack and freed-but-kept pages): {where}, "
                f"at the moment {profiles['memory_active_waits']:,} waits were active: "
                f"{describe_memory(profiles['memory'], 'active wait')}. Largest allocating lines: "
                f"{lines}."
            )
        if cpu_check.met is False or smoke:
            section.notes.append(
                f"Why CPU per poll is over the line ({fmt(largest['cpu_ms_per_poll'], 2)} ms, of which "
                f"{fmt(largest['system_ms_per_poll'], 2)} ms kernel; all of the waiting process's CPU "
                f"over its polls, {fmt(largest['polls_per_wait'], 1)} polls per wait, so per-wait "
                f"costs count too): {where}: {describe(profiles['cpu'], 'poll')}."
            )
    if latency_check.met is False:
        section.notes.append(
            f"Detection latency at N={largest['count']:,}: the emulator spent "
            f"{fmt(largest['emulator_cpu_ms_per_poll'])} ms of CPU per poll and was busy "
            f"{fmt(largest['emulator_cores'])} cores on average (one Python process, GIL-bound: ~1 core "
            f"at most), while the waiting process used {fmt(largest['client_cores'])} cores; a queue "
            "at the emulator delays answers for every trigger alike. The N=1,000 rows show the same "
            "trigger at a lower request rate."
        )
    return section


if __name__ == "__main__":
    main()
