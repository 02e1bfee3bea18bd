"""What a person reads about a wait: failure descriptions (loop iterations included) and progress lines."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.rules.reporting import LOG_TAIL_LINES, ProgressTracker, describe_failure
from airflow_provider_oos.rules.waiting import WaitingStateMachine

URL = "https://console.example/oos/execution/d-8fJk2LmQp3Rs?region=bj"
LONG_ID = "d-8fJk2LmQp3Rs"  # the length of real execution ids


def log(*lines: str) -> list[dict[str, Any]]:
    return [
        {"timestamp": f"2026-11-28T03:00:0{i % 10}Z", "level": "INFO", "msg": m} for i, m in enumerate(lines)
    ]


def child(index: int, state: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"t-c{index}", "loopIndex": index, "state": state, **extra}


def looped_failure(**child_extra: Any) -> Execution:
    return Execution.model_validate(
        {
            "id": "d-1",
            "state": "FAILED",
            "tasks": [
                {
                    "id": "t-stop",
                    "state": "FAILED",
                    "reason": "StopInstance failed for 1 of 3 instances",
                    "errorCode": "Bcc.InstanceStopTimeout",
                    "operator": {"name": "stop", "operator": "BCE::BCC::StopInstance"},
                    "log": log("scheduled 3 iterations", "1 instance(s) failed to stop, giving up"),
                    "children": [
                        child(0, "SUCCESS", initContext={"instanceId": "i-ok0"}),
                        child(
                            1,
                            "FAILED",
                            reason="instance did not reach Stopped in 600 s",
                            errorCode="Bcc.Timeout",
                            log=log(*[f"child line {i}" for i in range(9)]),
                            **child_extra,
                        ),
                    ],
                },
                {"id": "t-start", "state": "UPSTREAM_FAILED", "operator": {"name": "start"}},
            ],
        }
    )


def test_failure_names_the_failing_loop_iteration_its_instance_and_both_log_tails() -> None:
    text = describe_failure(looped_failure(initContext={"instanceId": "i-bad1"}), URL)
    assert (
        "Failing step: 'stop' (BCE::BCC::StopInstance), state FAILED, errorCode Bcc.InstanceStopTimeout."
        in text
    )
    assert "Reason: StopInstance failed for 1 of 3 instances" in text
    assert "Failing iteration: loopIndex 1, instance i-bad1, state FAILED, errorCode Bcc.Timeout." in text
    assert "Iteration reason: instance did not reach Stopped in 600 s" in text
    assert "1 instance(s) failed to stop, giving up" in text  # the step's own tail
    assert f"Last {LOG_TAIL_LINES} log line(s) of the iteration:" in text
    assert "child line 8" in text and "child line 4" in text and "child line 3" not in text
    assert text.index("Failing step") < text.index("Failing iteration") < text.index(URL)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"context": {"instances": [{"instanceId": "i-one"}]}}, "instance i-one"),
        ({"outputContext": {"instance": {"id": "i-dict"}}}, "instance i-dict"),
        ({"initContext": "free text", "context": {"instance": "i-plain"}}, "instance i-plain"),
        ({"context": {"instances": [{"instanceId": "i-a"}, {"instanceId": "i-b"}]}}, None),
        ({}, None),
    ],
)
def test_instance_of_the_failing_iteration_where_oos_says_it(
    where: dict[str, Any], expected: str | None
) -> None:
    text = describe_failure(looped_failure(**where))
    line = next(line for line in text.splitlines() if line.startswith("Failing iteration"))
    if expected is None:
        assert "instance" not in line
    else:
        assert expected in line


def test_nested_iteration_without_loop_index_is_named_by_its_task_id() -> None:
    execution = Execution.model_validate(
        {
            "id": "d-1",
            "state": "FAILED",
            "reason": "1 step failed",
            "errorCode": "Oos.StepFailed",
            "tasks": [
                {
                    "id": "t-outer",
                    "state": "SUCCESS",  # the failure is only visible in a child
                    "operator": {"name": "outer"},
                    "children": [
                        {"id": "t-mid", "state": "FAILED", "children": [{"id": "t-leaf", "state": "FAILED"}]}
                    ],
                }
            ],
        }
    )
    text = describe_failure(execution)
    assert "OOS says: 1 step failed, errorCode Oos.StepFailed." in text
    assert "Failing step: 'outer'" in text and "Failing iteration: task t-leaf, state FAILED." in text


def test_failure_without_any_log_says_no_log_heading() -> None:
    failed = {"id": "t", "state": "FAILED", "reason": "boom", "operator": {"name": "a", "operator": "X"}}
    text = describe_failure(Execution.model_validate({"id": "d-1", "state": "FAILED", "tasks": [failed]}))
    assert "Reason: boom" in text and "log line" not in text


def task(name: str, state: str) -> dict[str, Any]:
    return {
        "id": f"t-{name}",
        "state": state,
        "operator": {"name": name, "operator": "BCE::Agent::ExecuteShell"},
    }


def run(state: str, *tasks: dict[str, Any]) -> Execution:
    return Execution.model_validate({"id": LONG_ID, "state": state, "tasks": list(tasks)})


def test_progress_after_a_failure_says_what_failed_never_done() -> None:
    tracker = ProgressTracker(LONG_ID)
    lines = [
        n.message for n in tracker.notes(run("FAILED", task("prepare", "SUCCESS"), task("migrate", "FAILED")))
    ]
    assert f"OOS execution {LONG_ID}: 2/2 tasks finished, 1 failed." in lines
    assert not any("tasks done" in line for line in lines)
    lines = [
        n.message
        for n in ProgressTracker(LONG_ID).notes(
            run("FAILED", task("a", "FAILED"), task("b", "UPSTREAM_FAILED"), task("c", "UPSTREAM_FAILED"))
        )
    ]
    assert f"OOS execution {LONG_ID}: 3/3 tasks finished, 1 failed, 2 not run (upstream failed)." in lines
    ok = [n.message for n in ProgressTracker(LONG_ID).notes(run("SUCCESS", task("a", "SUCCESS")))]
    assert f"OOS execution {LONG_ID}: 1/1 tasks done." in ok


def test_progress_lines_are_short_and_the_link_comes_once_per_pause() -> None:
    """The log view cuts long lines: every line stays within 100 characters besides the link, and
    the link is said once per pause, not per poll."""
    machine = WaitingStateMachine(LONG_ID, URL, poll_interval=1)
    reads = [
        run("RUNNING", task("stop-web-servers", "RUNNING"), task("approve-window", "PENDING")),
        run("RUNNING", task("stop-web-servers", "SUCCESS"), task("approve-window", "RUNNING")),
        run("PAUSED", task("stop-web-servers", "SUCCESS"), task("approve-window", "RUNNING")),
        run("PAUSED", task("stop-web-servers", "SUCCESS"), task("approve-window", "RUNNING")),
        run("SOMETHING_NEW_STATE", task("stop-web-servers", "SUCCESS"), task("approve-window", "RUNNING")),
        run("FAILED", task("stop-web-servers", "SUCCESS"), task("approve-window", "FAILED")),
    ]
    notes = [note for read in reads for note in machine.next_action(read, 0.0).notes]
    notes += list(machine.next_action(OSError("connection reset by peer"), 0.0).notes)
    assert len(notes) >= 10
    for level, message in notes:
        assert level in (logging.INFO, logging.WARNING)
        assert len(message.replace(URL, "")) <= 100, message
    assert sum(URL in message for _, message in notes) == 1
    assert re.search(
        r"PAUSED at step 'approve-window', waits for a person: \S+$", "\n".join(m for _, m in notes), re.M
    )
