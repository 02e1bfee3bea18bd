"""OosCreateExecutionOperator against the real emulator: sync and deferred paths, every outcome."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
)
from airflow_provider_oos.hooks.create_token import CREATE_TOKEN_TAG
from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.triggers.oos import OosExecutionTrigger
from tests.support.oos_task_helpers import (
    TaskDeferred,
    approve_when_paused,
    clear_faults_after_failed_reads,
    run_trigger,
    shell,
    step,
    task_context,
    template,
    wait_for_state,
)

INSTANCES = ["i-web1", "i-web2"]
POLL = 0.05


@pytest.fixture(autouse=True)
def instances(emulator: EmulatorHandle) -> None:
    emulator.seed_instances(INSTANCES)


# Deferral tests need runs that are surely not over at the first look: 1 s at the test time scale.
STILL_RUNNING = "# emulator: sleep 50"


def maintenance(*patch_lines: str) -> dict[str, Any]:
    refs = [{"instanceId": i} for i in INSTANCES]
    return template(
        "maintenance",
        step("stop", "BCE::BCC::StopInstance", instances=refs),
        shell("patch", "# emulator: output PATCHED=yes", *patch_lines),
        step("start", "BCE::BCC::StartInstance", instances=refs),
    )


def operator(**kwargs: Any) -> OosCreateExecutionOperator:
    kwargs.setdefault("template", maintenance())
    kwargs.setdefault("poll_interval", POLL)
    return OosCreateExecutionOperator(task_id="oos_task", **kwargs)


def run_deferred(op: OosCreateExecutionOperator, context: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """execute() must defer; run the trigger like the triggerer does and resume with its one event."""
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, OosExecutionTrigger)
    assert deferred.value.method_name == "execute_complete"
    _classpath, kwargs = trigger.serialize()
    events = asyncio.run(run_trigger(OosExecutionTrigger(**kwargs)))  # as after a triggerer restart
    assert len(events) == 1
    return op.execute_complete(context, events[0]), events[0]


# ---- success ---------------------------------------------------------------------------------


def test_success_in_worker(emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]) -> None:
    context = task_context()
    summary = operator(tags={"team": "ops"}).execute(context)
    execution_id = summary["execution_id"]
    assert summary["state"] == "SUCCESS"
    assert list(summary["tasks"]) == ["stop", "patch", "start"]
    assert summary["tasks"]["patch"]["outputs"]["PATCHED"] == "yes"
    assert all(task["state"] == "SUCCESS" for task in summary["tasks"].values())
    assert execution_id in summary["console_url"]
    assert context["ti"].xcoms == {"execution_id": execution_id, "console_url": summary["console_url"]}
    assert emulator.create_calls() == 1
    assert emulator.instance_states() == dict.fromkeys(INSTANCES, "Running")

    from airflow_provider_oos.hooks.oos import OosHook

    tags = {tag.key: tag.value for tag in OosHook().get_execution(execution_id).tags or []}
    # The hook adds its own once-only create token (hooks/create_token.py) next to ours.
    assert re.fullmatch(r"[0-9a-f]{32}", tags.pop(CREATE_TOKEN_TAG, ""))
    assert tags == {
        "team": "ops",
        "airflow-dag": "test_dag",
        "airflow-run": "manual__test",
        "airflow-task": "oos_task",
    }
    # Progress logs follow the run without a line per poll.
    logged = capsys.readouterr().out
    assert logged.count(f"OOS execution {execution_id}: 3/3 tasks done.") == 1
    assert "running step" in logged
    assert logged.count("running step 'stop' (BCE::BCC::StopInstance)") <= 1  # not a line per poll
    assert logged.count(f"OOS execution {execution_id} is SUCCESS.") == 1


def test_success_deferred(emulator: EmulatorHandle) -> None:
    context = task_context()
    op = operator(template=maintenance(STILL_RUNNING), deferrable=True, tag_with_airflow_context=False)
    summary, event = run_deferred(op, context)
    assert event["status"] == "success" and event["state"] == "SUCCESS"
    assert summary["state"] == "SUCCESS" and summary["tasks"]["patch"]["outputs"]["PATCHED"] == "yes"
    assert context["ti"].xcoms["execution_id"] == summary["execution_id"] == event["execution_id"]
    assert emulator.create_calls() == 1


def test_template_by_name_and_by_ref(emulator: EmulatorHandle) -> None:
    from airflow_provider_oos.hooks.oos import OosHook

    template_id = OosHook().create_template(template("nightly", shell("work", "# emulator: output N=1")))
    # Two task instances: one task instance run again would reattach to its first execution.
    by_name = operator(template=None, template_name="nightly").execute(task_context(task_id="by_name"))
    by_ref = operator(template=None, template_ref=template_id).execute(task_context(task_id="by_ref"))
    assert by_name["state"] == by_ref["state"] == "SUCCESS"
    assert by_name["tasks"]["work"]["outputs"]["N"] == "1"
    assert emulator.create_calls() == 2


def test_fire_and_forget_returns_state_seen_after_create(emulator: EmulatorHandle) -> None:
    context = task_context()
    summary = operator(
        wait_for_completion=False, template=template("slow", shell("s", "# emulator: sleep 50"))
    ).execute(context)
    assert summary["state"] in {"PENDING", "RUNNING"}
    assert context["ti"].xcoms["execution_id"] == summary["execution_id"]


# ---- failure ---------------------------------------------------------------------------------

FAILING = template("failing", shell("prepare"), shell("migrate", "# emulator: exit 3"), shell("after"))
FAILING_LATER = template("failing", shell("prepare", STILL_RUNNING), shell("migrate", "# emulator: exit 3"))


def test_failure_in_worker_names_step_reason_and_log(emulator: EmulatorHandle) -> None:
    context = task_context()
    with pytest.raises(OosExecutionFailedError) as failed:
        operator(template=FAILING).execute(context)
    message = str(failed.value)
    execution_id = context["ti"].xcoms["execution_id"]
    assert execution_id in message and "FAILED" in message
    assert "'migrate'" in message and "exit" in message and "3" in message
    assert "Reason:" in message and "log line" in message
    assert failed.value.execution.id == execution_id


def test_failed_run_progress_says_what_failed(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11: "is FAILED" followed by "n/n tasks done" read like success."""
    with pytest.raises(OosExecutionFailedError):
        operator(template=FAILING).execute(task_context())
    lines = [line for line in capsys.readouterr().out.splitlines() if " tasks " in line]
    assert lines and ", 1 failed" in lines[-1], lines
    assert "tasks finished" in lines[-1] and "tasks done" not in lines[-1]


def test_failure_deferred(emulator: EmulatorHandle) -> None:
    context = task_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator(template=FAILING_LATER, deferrable=True).execute(context)
    events = asyncio.run(run_trigger(deferred.value.trigger))
    assert [e["status"] for e in events] == ["failed"]
    assert "'migrate'" in events[0]["message"]
    with pytest.raises(OosExecutionFailedError, match="migrate") as failed:
        operator(template=FAILING, deferrable=True).execute_complete(context, events[0])
    assert "Reason:" in str(failed.value) and context["ti"].xcoms["execution_id"] in str(failed.value)


def test_already_final_before_defer_does_not_defer(emulator: EmulatorHandle) -> None:
    class SlowToLook(OosCreateExecutionOperator):
        """Looks only once the execution is over, as when a short run beats the first poll."""

        def _push_execution_xcoms(self, execution_id: str, context: Any) -> str:
            url = super()._push_execution_xcoms(execution_id, context)
            wait_for_state(emulator, execution_id, {"SUCCESS", "FAILED"})
            return url

    ok = SlowToLook(task_id="t", template=template("quick", shell("q")), deferrable=True, poll_interval=POLL)
    assert ok.execute(task_context())["state"] == "SUCCESS"  # returned: no TaskDeferred raised
    bad = SlowToLook(task_id="t", template=FAILING, deferrable=True, poll_interval=POLL)
    with pytest.raises(OosExecutionFailedError):
        bad.execute(task_context())


# ---- paused ----------------------------------------------------------------------------------

APPROVAL = template(
    "with-approval",
    shell("prepare", "# emulator: sleep 25"),  # still running at the first look
    {**shell("approve"), "manually": True},
    shell("finish", "# emulator: output DONE=1"),
)


def test_paused_wait_in_worker_warns_once_and_finishes(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    approver = approve_when_paused(emulator, after=0.4)
    summary = operator(template=APPROVAL, on_paused="wait").execute(task_context())
    approver.join()
    assert summary["state"] == "SUCCESS" and summary["tasks"]["finish"]["outputs"] == {
        "exitCode": 0,
        "stdout": summary["tasks"]["finish"]["outputs"]["stdout"],
        "DONE": "1",
    }
    warnings = [line for line in capsys.readouterr().out.splitlines() if "waits for a person" in line]
    assert len(warnings) == 1 and summary["console_url"] in warnings[0]


def test_paused_fail_in_worker(emulator: EmulatorHandle) -> None:
    with pytest.raises(OosExecutionPausedError, match="PAUSED") as paused:
        operator(template=APPROVAL, on_paused="fail").execute(task_context())
    assert "console" in str(paused.value)


def test_paused_deferred_wait_and_fail(emulator: EmulatorHandle) -> None:
    approver = approve_when_paused(emulator, after=0.3)
    summary, event = run_deferred(operator(template=APPROVAL, deferrable=True), task_context())
    approver.join()
    assert event["status"] == "success" and summary["tasks"]["finish"]["outputs"]["DONE"] == "1"

    context = task_context(task_id="fails_on_pause")  # another task instance: no reattach to the first
    op = operator(template=APPROVAL, deferrable=True, on_paused="fail")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    events = asyncio.run(run_trigger(deferred.value.trigger))
    assert [e["status"] for e in events] == ["paused"]
    with pytest.raises(OosExecutionPausedError):
        op.execute_complete(context, events[0])


# ---- timeout ---------------------------------------------------------------------------------

SLOW = template("slow", shell("long", "# emulator: sleep 100"))  # 2 s at the test time scale


def test_timeout_in_worker_reports_last_state(emulator: EmulatorHandle) -> None:
    context = task_context()
    with pytest.raises(OosExecutionTimeoutError, match="last known state: RUNNING") as timed_out:
        operator(template=SLOW, timeout=0.3).execute(context)
    assert context["ti"].xcoms["execution_id"] in str(timed_out.value)
    assert "keeps running" in str(timed_out.value)


def test_timeout_deferred(emulator: EmulatorHandle) -> None:
    context = task_context()
    op = operator(template=SLOW, timeout=0.3, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert deferred.value.trigger.deadline is not None
    events = asyncio.run(run_trigger(deferred.value.trigger))
    assert [(e["status"], e["state"]) for e in events] == [("timeout", "RUNNING")]
    with pytest.raises(OosExecutionTimeoutError, match="last known state: RUNNING"):
        op.execute_complete(context, events[0])


# ---- transient API faults ----------------------------------------------------------------------

GET_EXECUTION = {"path": "/api/logic/oos/v2/execution", "method": "GET"}


def test_transient_faults_ridden_out_in_worker(emulator: EmulatorHandle) -> None:
    emulator.set_faults(**GET_EXECUTION, error503=1.0)  # every read fails until the fault clears
    clearing = clear_faults_after_failed_reads(emulator, reads=2)
    summary = operator(template=template("q", shell("q")), poll_interval=0.2).execute(task_context())
    clearing.join()
    assert summary["state"] == "SUCCESS"
    assert emulator.create_calls() == 1  # failed reads never lead to a second create


def test_persistent_faults_give_up_in_worker(emulator: EmulatorHandle) -> None:
    emulator.set_faults(**GET_EXECUTION, error503=1.0)
    with pytest.raises(OosApiError):
        operator(template=template("q", shell("q")), poll_interval=0.02).execute(task_context())
    gets = emulator.admin("GET", "stats")["requests"]["GET /api/logic/oos/v2/execution"]
    assert gets == 5  # MAX_CONSECUTIVE_API_FAILURES reads (the hook itself retries 0 times here)


def test_transient_faults_ridden_out_deferred(emulator: EmulatorHandle) -> None:
    context = task_context()
    op = operator(
        template=template("s", shell("s", "# emulator: sleep 10")), deferrable=True, poll_interval=0.1
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    reads_before = emulator.admin("GET", "stats")["requests"]["GET /api/logic/oos/v2/execution"]
    emulator.set_faults(**GET_EXECUTION, error503=1.0)
    clearing = clear_faults_after_failed_reads(emulator, reads=reads_before + 2)
    events = asyncio.run(run_trigger(deferred.value.trigger))
    clearing.join()
    assert [e["status"] for e in events] == ["success"]
    assert op.execute_complete(context, events[0])["state"] == "SUCCESS"


def test_persistent_faults_error_event_deferred(emulator: EmulatorHandle) -> None:
    context = task_context()
    op = operator(template=SLOW, deferrable=True, poll_interval=0.02)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    emulator.set_faults(**GET_EXECUTION, error500=1.0)
    events = asyncio.run(run_trigger(deferred.value.trigger))
    assert [e["status"] for e in events] == ["error"]
    assert "5 failed API call(s) in a row" in events[0]["message"]
    with pytest.raises(OosApiError, match="Giving up"):
        op.execute_complete(context, events[0])


# ---- on_kill ---------------------------------------------------------------------------------


def test_on_kill_says_execution_keeps_running(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    op = operator(template=template("q", shell("q")))
    summary = op.execute(task_context())
    capsys.readouterr()
    op.on_kill()
    text = capsys.readouterr().out
    assert "no API to cancel" in text and summary["execution_id"] in text and summary["console_url"] in text
