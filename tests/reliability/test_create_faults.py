"""Exactly-once create under ambiguous faults (issue 10): every create gives one execution, found.

The emulator commits each faulted create and then loses the answer: the connection is dropped,
the answer is a 500 or a 503, or it comes after the client's read timeout; new executions also
show up in the list call only a moment later. The hook cannot know whether OOS started the
execution, so it must look for its create token in the list instead of resending. Expected: N
creates give exactly N executions, each create returns the id of its own execution (0 lost), no
create is resent and no execution is doubled (0 duplicates). The small twin runs in `make test`;
the full size (100 creates) under `-m reliability`, with its figures in RELIABILITY.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .figures import record
from .support import OOS_PATH, RecordingEmulator, set_connection, step_template

# Every fault here happens after the create was committed: a resend would double the execution.
CREATE_FAULTS: dict[str, Any] = {
    "drop": 0.1,
    "error500": 0.1,
    "error503AfterCommit": 0.1,
    "answerDelayMs": 3000,  # past the connection's 2 s timeout below: a read timeout
    "answerDelayRate": 0.1,
    "listVisibilityDelayMs": 300,
}
CONNECTION = {"timeout": 2, "max_retries": 5, "retry_wait_min": 0.05, "retry_wait_max": 0.5}
TEMPLATE = "create-faults"
RUN_TAG = "fault-test-run"


@pytest.fixture(scope="module")
def fault_emulator() -> Iterator[RecordingEmulator]:
    emulator = RecordingEmulator(time_scale=0.02, instances=["i-ok"]).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def create_many(emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch, creates: int) -> None:
    from airflow_provider_oos.hooks.oos import OosHook

    emulator.reset()
    set_connection(monkeypatch, "oos_default", emulator, **CONNECTION)
    emulator.set_faults(path=OOS_PATH, method="POST", **CREATE_FAULTS)
    template = step_template(TEMPLATE, instance="i-ok", shell_seconds=1)

    def create(index: int) -> tuple[int, str | None, BaseException | None]:
        hook = OosHook()  # one per thread: a hook's session is not shared across threads
        try:
            return index, hook.create_execution(template, tags={RUN_TAG: str(index)}), None
        except Exception as err:
            return index, None, err
        finally:
            hook.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(creates, 20)) as pool:
        outcomes = list(pool.map(create, range(creates)))
    seconds = time.monotonic() - started
    emulator.clear_faults()
    requests = emulator.admin("GET", "stats")["requests"]

    # What OOS holds, read through the published list call once the faults are gone.
    reader = OosHook()
    held: dict[str, list[str]] = {}
    for execution in reader.iter_executions(template_name=TEMPLATE):
        held.setdefault(execution.tag_map().get(RUN_TAG, "?"), []).append(execution.id)
    reader.close()

    problems: list[str] = []
    lost = [f"create {index}: {error!r}" for index, _, error in outcomes if error is not None]
    duplicates = {run: ids for run, ids in held.items() if len(ids) > 1}
    for index, execution_id, error in outcomes:
        if error is None and held.get(str(index)) != [execution_id]:
            problems.append(f"create {index} returned {execution_id}, OOS holds {held.get(str(index))}")
    calls = emulator.create_calls()
    executions = sum(len(ids) for ids in held.values())
    admin_count = len(emulator.executions())
    if lost:
        problems.append(f"{len(lost)} create(s) lost:\n  " + "\n  ".join(lost[:10]))
    if duplicates:
        problems.append(f"duplicated executions: {duplicates}")
    if not calls == executions == admin_count == creates:
        problems.append(
            f"{creates} creates, createExecutionCalls {calls}, executions listed {executions}, "
            f"held by the emulator {admin_count}: these must all agree (a resend is a second call)"
        )
    # The faults must really have hit: the hook recovered lost answers through the list call.
    list_calls = sum(count for key, count in requests.items() if key.endswith("/v2/execution/list"))
    if list_calls == 0:
        problems.append(
            "no list-executions call was made: no create answer was lost, the test proves nothing"
        )
    record(
        "exactly-once create",
        creates=creates,
        executions=executions,
        duplicates=sum(len(ids) - 1 for ids in duplicates.values()),
        lost=len(lost),
        create_calls=calls,
        list_calls_for_recovery=list_calls,
        faults="after commit: 10 % dropped, 10 % 500, 10 % 503, 10 % answered after the read timeout; "
        "list visibility delayed 300 ms",
        seconds=round(seconds, 1),
    )
    assert not problems, "\n".join(problems)


def test_ambiguous_create_faults_give_exactly_one_execution_each_fast(
    fault_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_many(fault_emulator, monkeypatch, 20)


@pytest.mark.reliability
def test_ambiguous_create_faults_give_exactly_one_execution_each_full(
    fault_emulator: RecordingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_many(fault_emulator, monkeypatch, 100)
