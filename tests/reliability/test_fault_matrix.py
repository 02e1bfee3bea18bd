"""Fault matrix: every fault kind x every waiting path, many executions awaited at once.

Fault kinds (emulator fault injection, loopback only): 30 % of calls answered 500/503/429 mixed;
dropped connections; 2 s latency spikes; the emulator restarted mid-wait on its SQLite file.
Waiting paths: the sync operator's `execute()` (threads); the sensor in reschedule mode (a fresh
sensor per `poke()`, as each reschedule runs in a new worker process); the deferred trigger
(operators defer, their triggers are rebuilt from the serialized kwargs as a triggerer does, all
`run()` generators share one event loop, then `execute_complete`).

Faults hit the waiting calls (GET execution), so every operator run must create exactly one
execution: the invariant is exact. What a fault on *create* does is proven separately
(`test_create_under_faults_never_duplicates`): the hook never resends a create after a 5xx or a
dropped connection, so a run creates at most one execution and the user sees the error.

Invariants checked in every cell: each run ends (nothing hangs, nothing lost); its Airflow-side
outcome and state equal the emulator's true final state of that execution; success and failure
land where the template says (unknown instance -> FAILED); the emulator's `createExecutionCalls`
equals the number of operator runs; the set of executions equals the set of ids Airflow reported.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos.client.models import is_failed, is_final, is_successful
from airflow_provider_oos.client.retry import is_transient
from airflow_provider_oos.exceptions import OosApiError, OosExecutionFailedError

from .figures import record, record_row
from .support import (
    FAST_RETRY_EXTRAS,
    OOS_PATH,
    RecordingEmulator,
    context_for,
    set_connection,
    step_template,
)

FAST_RUNS = 10
FULL_RUNS = 100
TIME_SCALE = 0.5  # a shell step of 1-5 simulated seconds really lasts 0.5-2.5 s: waits overlap
POLL_SECONDS = 0.2
RUN_DEADLINE_SECONDS = 120  # a run still going after this counts as lost
SENSOR_RETRIES = 3  # the sensor task's `retries`, as a DAG author would set it

FAULTS: dict[str, dict[str, Any] | None] = {
    # 30 % of waiting calls answered 500, 503 or 429 (10 % each)
    "errors-30pct": {"error500": 0.1, "error503": 0.1, "error429": 0.1},
    "dropped-connections": {"drop": 0.2},
    "latency-2s-spikes": {"latencyMs": 2000, "latencyRate": 0.1},
    "restart-mid-wait": None,  # no rule: the emulator process is restarted on its SQLite file
}
PATHS = ("operator", "sensor-reschedule", "deferred-trigger")


@dataclass
class RunResult:
    index: int
    expect_success: bool
    outcome: str = "lost"  # "success" | "failed" | "error" | "lost"
    execution_id: str | None = None
    state: str | None = None
    xcom_execution_id: str | None = None
    detail: str = ""
    sensor_try_failures: int = 0  # sensor tries failed by an API error (Airflow retried them)


@pytest.fixture(scope="module")
def matrix_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingEmulator]:
    db = Path(tmp_path_factory.mktemp("fault-matrix")) / "oos.db"
    handle = RecordingEmulator(time_scale=TIME_SCALE, db_path=db, instances=["i-ok"]).start()
    yield handle
    handle.stop()


def plan(runs: int, seed: int, longest: float) -> list[tuple[int, bool, float]]:
    """(index, expect success, simulated shell seconds): one run in three fails (unknown instance)."""
    rng = random.Random(seed)
    return [(i, i % 3 != 0, rng.uniform(1, longest)) for i in range(runs)]


def template_for(cell: str, index: int, expect_success: bool, seconds: float) -> dict[str, Any]:
    instance = "i-ok" if expect_success else f"i-missing-{index}"
    return step_template(f"rel-{cell}-{index}", instance=instance, shell_seconds=seconds)


# ---- the three waiting paths -----------------------------------------------------------------


def settle_result(result: RunResult, call: Callable[[], Any]) -> None:
    try:
        summary = call()
    except OosExecutionFailedError as err:
        result.outcome, result.execution_id, result.state = "failed", err.execution.id, err.execution.state
        result.detail = str(err).splitlines()[0]
    except Exception as err:  # an API error that survived every retry: visible, but not a final state
        result.outcome, result.detail = "error", f"{type(err).__name__}: {err}"
    else:
        result.outcome, result.execution_id, result.state = (
            "success",
            summary["execution_id"],
            summary["state"],
        )


def run_operator(cell: str, index: int, expect_success: bool, seconds: float) -> RunResult:
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    result = RunResult(index, expect_success)
    task_id = f"op_{index}"
    context = context_for(task_id)
    operator = OosCreateExecutionOperator(
        task_id=task_id,
        template=template_for(cell, index, expect_success, seconds),
        poll_interval=POLL_SECONDS,
        deferrable=False,
    )
    settle_result(result, lambda: operator.execute(context))
    result.xcom_execution_id = context["ti"].xcom.get("execution_id")
    return result


def run_sensor(cell: str, index: int, expect_success: bool, seconds: float) -> RunResult:
    """Fire-and-forget create, then reschedule-mode pokes, each by a fresh sensor (new worker)."""
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
    from airflow_provider_oos.sensors.oos import OosExecutionSensor

    result = RunResult(index, expect_success)
    create_context = context_for(f"start_{index}")
    starter = OosCreateExecutionOperator(
        task_id=f"start_{index}",
        template=template_for(cell, index, expect_success, seconds),
        wait_for_completion=False,
        deferrable=False,
    )
    try:
        starter.execute(create_context)
    except Exception as err:
        result.outcome, result.detail = "error", f"create: {type(err).__name__}: {err}"
        return result
    execution_id = create_context["ti"].xcom["execution_id"]
    result.xcom_execution_id = execution_id

    def poke_until_done() -> dict[str, Any]:
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        tries_left = SENSOR_RETRIES
        while time.monotonic() < deadline:
            sensor = OosExecutionSensor(
                task_id=f"wait_{index}",
                execution_id=execution_id,
                mode="reschedule",
                poke_interval=POLL_SECONDS,
                retries=SENSOR_RETRIES,
                deferrable=False,
            )
            try:
                answer = sensor.poke(context_for(f"wait_{index}"))
            except OosApiError as err:
                # The try fails; the scheduler starts the next one (the task's `retries`) after
                # retry_delay. Only an API error that outlived the hook's own retries gets here.
                if tries_left == 0 or not is_transient(err):
                    raise
                tries_left -= 1
                result.sensor_try_failures += 1
                time.sleep(POLL_SECONDS)
                continue
            if answer.is_done:
                value: dict[str, Any] = answer.xcom_value
                return value
            time.sleep(POLL_SECONDS)  # the scheduler reschedules the sensor after poke_interval
        raise TimeoutError(f"sensor never finished for {execution_id}")

    settle_result(result, poke_until_done)
    return result


def start_deferred(cell: str, index: int, expect_success: bool, seconds: float) -> tuple[RunResult, Any, Any]:
    """Run the deferrable operator's `execute()` up to its deferral; return the trigger to await."""
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    result = RunResult(index, expect_success)
    task_id = f"defer_{index}"
    context = context_for(task_id)
    operator = OosCreateExecutionOperator(
        task_id=task_id,
        template=template_for(cell, index, expect_success, seconds),
        poll_interval=POLL_SECONDS,
        deferrable=True,
    )
    trigger = None
    try:
        summary = operator.execute(context)  # final already at the first look: no deferral
    except TaskDeferred as deferred:
        assert deferred.method_name == "execute_complete"
        trigger = deferred.trigger
    except OosExecutionFailedError as err:
        result.outcome, result.execution_id, result.state = "failed", err.execution.id, err.execution.state
    except Exception as err:
        result.outcome, result.detail = "error", f"{type(err).__name__}: {err}"
    else:
        result.outcome, result.execution_id, result.state = (
            "success",
            summary["execution_id"],
            summary["state"],
        )
    result.xcom_execution_id = context["ti"].xcom.get("execution_id")
    return result, (operator, context), trigger


async def await_triggers(triggers: list[Any]) -> list[list[Any]]:
    """One event loop for all triggers, as in a triggerer; each rebuilt from its serialized form."""
    from airflow_provider_oos.client.session_pool import close_all_sessions

    async def drain(trigger: Any) -> list[Any]:
        classpath, kwargs = trigger.serialize()
        module, _, name = classpath.rpartition(".")
        revived = getattr(importlib.import_module(module), name)(**kwargs)
        return [event async for event in revived.run()]

    try:
        return await asyncio.wait_for(
            asyncio.gather(*(drain(t) for t in triggers)), timeout=RUN_DEADLINE_SECONDS
        )
    finally:
        await close_all_sessions()


def run_deferred_cell(
    cell: str, runs: list[tuple[int, bool, float]], pool: ThreadPoolExecutor
) -> list[RunResult]:
    started = list(pool.map(lambda args: start_deferred(cell, *args), runs))
    waiting = [(result, owner, trigger) for result, owner, trigger in started if trigger is not None]
    event_lists = asyncio.run(await_triggers([trigger for _, _, trigger in waiting]))
    for (result, (operator, context), _), events in zip(waiting, event_lists, strict=True):
        assert len(events) == 1, f"run {result.index}: a trigger must yield exactly one event, got {events}"
        settle_result(
            result, lambda op=operator, ctx=context, ev=events[0]: op.execute_complete(ctx, ev.payload)
        )
    return [result for result, _, _ in started]


# ---- one cell of the matrix ------------------------------------------------------------------


def restart_when_all_created(emulator: RecordingEmulator, runs: int, stats: dict[str, Any]) -> None:
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    while emulator.create_calls() < runs and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the waits begin
    states = [e["state"] for e in emulator.executions()]
    stats["waiting_at_restart"] = sum(1 for state in states if not is_final(state))
    started = time.monotonic()
    emulator.restart()
    stats["restart_seconds"] = round(time.monotonic() - started, 2)


def run_cell(
    emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, fault: str, path: str, runs: int
) -> None:
    emulator.reset()
    set_connection(monkeypatch, "oos_default", emulator, **FAST_RETRY_EXTRAS)
    cell = f"{fault}-{path}"
    spec = FAULTS[fault]
    if spec is not None:
        emulator.set_faults(path=OOS_PATH, method="GET", **spec)
    planned = plan(runs, seed=zlib.crc32(cell.encode()), longest=5 if runs >= FULL_RUNS else 2)
    stats: dict[str, Any] = {}
    restarter = None
    if spec is None:
        restarter = threading.Thread(target=restart_when_all_created, args=(emulator, runs, stats))
        restarter.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=runs) as pool:
            if path == "operator":
                results = list(pool.map(lambda args: run_operator(cell, *args), planned))
            elif path == "sensor-reschedule":
                results = list(pool.map(lambda args: run_sensor(cell, *args), planned))
            else:
                results = run_deferred_cell(cell, planned, pool)
    finally:
        if restarter is not None:
            restarter.join()  # never let a restart spill into the next test
    elapsed = time.monotonic() - started
    emulator.clear_faults()

    truth = {e["id"]: e["state"] for e in emulator.executions()}
    create_calls = emulator.create_calls()
    requests = emulator.admin("GET", "stats")["requests"]
    problems: list[str] = []
    for result in results:
        where = f"run {result.index} ({cell})"
        if result.outcome not in ("success", "failed"):
            problems.append(f"{where}: no final outcome: {result.outcome} {result.detail}")
            continue
        if result.execution_id not in truth:
            problems.append(f"{where}: Airflow reports {result.execution_id}, unknown to the emulator")
            continue
        true_state = truth[result.execution_id]
        if result.state != true_state:
            problems.append(f"{where}: Airflow says {result.state}, emulator says {true_state}")
        if (result.outcome == "success") != is_successful(true_state) or (
            result.outcome == "failed"
        ) != is_failed(true_state):
            problems.append(f"{where}: outcome {result.outcome} but true state {true_state}")
        if (result.outcome == "success") != result.expect_success:
            problems.append(f"{where}: expected {'success' if result.expect_success else 'failure'}")
        if result.xcom_execution_id != result.execution_id:
            problems.append(f"{where}: XCom execution_id {result.xcom_execution_id} != {result.execution_id}")
    reported = [r.execution_id for r in results if r.execution_id]
    if create_calls != runs:
        problems.append(f"{cell}: createExecutionCalls {create_calls} != {runs} operator runs")
    if sorted(reported) != sorted(truth):
        problems.append(
            f"{cell}: executions {sorted(truth)} != reported {sorted(reported)} (lost or orphaned)"
        )
    if spec is None and not stats.get("waiting_at_restart"):
        problems.append(f"{cell}: no execution was still waiting when the emulator restarted")
    succeeded = sum(1 for r in results if r.outcome == "success")
    failed = sum(1 for r in results if r.outcome == "failed")
    record_row(
        "fault matrix",
        {
            "fault": fault,
            "path": path,
            "runs": runs,
            "succeeded": succeeded,
            "failed_as_designed": failed,
            "matched_true_state": sum(
                1 for r in results if r.execution_id in truth and r.state == truth[r.execution_id]
            ),
            "create_calls": create_calls,
            "get_calls": requests.get(f"GET {OOS_PATH}", 0),
            "seconds": round(elapsed, 1),
            "sensor_try_failures": sum(r.sensor_try_failures for r in results),
            **stats,
        },
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_matrix_fast(
    matrix_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, fault: str, path: str
) -> None:
    run_cell(matrix_emulator, monkeypatch, fault, path, FAST_RUNS)


@pytest.mark.reliability
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_matrix_full(
    matrix_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, fault: str, path: str
) -> None:
    run_cell(matrix_emulator, monkeypatch, fault, path, FULL_RUNS)


# ---- faults on create: never a duplicate ------------------------------------------------------

CREATE_FAULTS = {"error500": 0.1, "error503": 0.1, "error429": 0.1, "drop": 0.1}


def create_under_faults(emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, runs: int) -> None:
    """40 % of create calls fail (500 / 503 / 429 / dropped, 10 % each).

    The emulator handles a 500 or a drop *after* creating (the answer is lost), 503 and 429
    before. So: a run that got an id has exactly that one execution; a run that saw a 500 or a
    dropped connection has at most one (an orphan the user is told about) because the hook must
    not resend; a run refused with 503/429 has none; no run ever has two.
    """
    from airflow_provider_oos.exceptions import OosConnectionError
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    emulator.reset()
    set_connection(monkeypatch, "oos_default", emulator, **FAST_RETRY_EXTRAS)
    emulator.set_faults(path=OOS_PATH, method="POST", **CREATE_FAULTS)

    def create(index: int) -> tuple[int, str | None, BaseException | None]:
        operator = OosCreateExecutionOperator(
            task_id=f"create_{index}",
            template=step_template(f"rel-create-{index}", instance="i-ok", shell_seconds=1),
            wait_for_completion=False,
            deferrable=False,
        )
        context = context_for(f"create_{index}")
        try:
            operator.execute(context)
        except Exception as err:
            return index, None, err
        return index, context["ti"].xcom["execution_id"], None

    with ThreadPoolExecutor(max_workers=min(runs, 50)) as pool:
        outcomes = list(pool.map(create, range(runs)))
    emulator.clear_faults()

    by_name: dict[str, list[str]] = {}
    for execution in emulator.executions():
        by_name.setdefault(execution["templateName"], []).append(execution["id"])
    problems: list[str] = []
    lost_answers = refused = created = 0
    for index, execution_id, error in outcomes:
        found = by_name.get(f"rel-create-{index}", [])
        if len(found) > 1:
            problems.append(f"run {index}: {len(found)} executions (duplicate create): {found}")
        if error is None:
            created += 1
            if found != [execution_id]:
                problems.append(f"run {index}: got {execution_id} but the emulator holds {found}")
        elif not isinstance(error, OosApiError):
            problems.append(f"run {index}: not an OosApiError: {error!r}")
        elif error.status in (503, 429):
            refused += 1
            if found:
                problems.append(f"run {index}: refused with {error.status} yet created {found}")
        elif error.status == 500 or (isinstance(error, OosConnectionError) and error.request_sent):
            lost_answers += 1  # visible to the user as an error naming the call and request id
            if not str(error) or "POST" not in str(error):
                problems.append(f"run {index}: the error does not name the call: {error}")
        else:
            problems.append(f"run {index}: unexpected error {error!r}")
    calls = emulator.create_calls()
    held = sum(len(ids) for ids in by_name.values())
    if not calls == held == created + lost_answers:
        problems.append(
            f"createExecutionCalls {calls}, executions held {held}, reported {created} + answers lost "
            f"{lost_answers}: these must all agree"
        )
    if calls > runs:
        problems.append(f"createExecutionCalls {calls} > {runs} runs: a create was resent")
    record(
        "create under faults",
        runs=runs,
        created_and_reported=created,
        answer_lost_user_saw_error=lost_answers,
        refused_before_processing=refused,
        create_calls=calls,
        duplicates=sum(1 for n in by_name.values() if len(n) > 1),
    )
    assert not problems, "\n".join(problems)


def test_create_under_faults_never_duplicates_fast(
    matrix_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_under_faults(matrix_emulator, monkeypatch, 30)


@pytest.mark.reliability
def test_create_under_faults_never_duplicates_full(
    matrix_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_under_faults(matrix_emulator, monkeypatch, 300)
