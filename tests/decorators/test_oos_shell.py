"""``@task.oos_shell`` against the real emulator: the returned script is what OOS records, the step's
outputs are the XCom, the operator's safeties hold, and bad input fails before any API call."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.decorators.oos_shell import OosShellDecoratedOperator, oos_shell_task
from airflow_provider_oos.exceptions import OosExecutionFailedError
from airflow_provider_oos.hooks.oos import OosHook
from airflow_provider_oos.triggers.oos import OosExecutionTrigger
from airflow_provider_oos.version_compat import AirflowSkipException
from tests.support.oos_task_helpers import TaskDeferred, api_requests, run_trigger, task_context

INSTANCES = ["i-shell-1", "i-shell-2"]
DAG_ID = "shell_dag"


@pytest.fixture(autouse=True)
def instances(emulator: EmulatorHandle) -> None:
    emulator.seed_instances(INSTANCES)


def shell_task(body: Any, task_id: str = "run_script", **decorator_args: Any) -> OosShellDecoratedOperator:
    """The operator ``@task.oos_shell(**decorator_args)`` makes of ``body`` in a DAG."""
    from airflow.sdk import DAG, task

    decorator_args.setdefault("instances", INSTANCES)
    decorator_args.setdefault("poll_interval", 0.05)
    with DAG(DAG_ID, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
        task.oos_shell(task_id=task_id, **decorator_args)(body)()
    op = dag.get_task(task_id)
    assert isinstance(op, OosShellDecoratedOperator)
    return op


def context(task_id: str = "run_script", try_number: int = 1, **extra: Any) -> dict[str, Any]:
    return {**task_context(dag_id=DAG_ID, task_id=task_id, try_number=try_number), **extra}


def recorded_step(execution_id: str) -> Any:
    """The step OOS recorded in the execution's template snapshot."""
    (step,) = OosHook().get_execution(execution_id).template.operators  # type: ignore[union-attr]
    return step


def test_registered_as_task_oos_shell() -> None:
    from airflow.sdk import task

    from airflow_provider_oos.get_provider_info import get_provider_info

    assert task.oos_shell is oos_shell_task
    entry = {"class-name": "airflow_provider_oos.decorators.oos_shell.oos_shell_task", "name": "oos_shell"}
    assert entry in get_provider_info()["task-decorators"]


def test_the_returned_script_runs_and_the_step_outputs_are_the_xcom(emulator: EmulatorHandle) -> None:
    def deploy(params: dict[str, Any]) -> str:
        return f"#!/bin/bash\nsystemctl restart {params['service']}\n# emulator: output RESTARTED=yes\n"

    op = shell_task(deploy, shell_user="root", work_dir="/opt/app", step_timeout=timedelta(minutes=10))
    ctx = context(params={"service": "nginx"})
    outputs = op.execute(ctx)

    assert outputs["RESTARTED"] == "yes" and outputs["exitCode"] == 0
    assert f"on {', '.join(INSTANCES)}" in outputs["stdout"]
    execution_id = ctx["ti"].xcoms["execution_id"]
    assert execution_id in ctx["ti"].xcoms["console_url"]  # the operator's link XComs are there too
    step = recorded_step(execution_id)
    assert step.operator == "BCE::Agent::ExecuteShell" and step.name == "shell"
    assert step.properties == {
        "content": "#!/bin/bash\nsystemctl restart nginx\n# emulator: output RESTARTED=yes\n",
        "instances": [{"instanceId": i} for i in INSTANCES],
        "user": "root",
        "workDir": "/opt/app",
    }
    assert step.timeout == 600_000 and step.retries == 0
    (listed,) = emulator.executions()
    assert listed["templateName"] == f"airflow-shell-{DAG_ID}-run_script"
    assert listed["state"] == "SUCCESS" and emulator.create_calls() == 1


def test_instances_are_templated_and_the_function_gets_its_arguments(emulator: EmulatorHandle) -> None:
    from airflow.sdk import DAG, task

    with DAG(DAG_ID, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:

        @task.oos_shell(instances="{{ params.ids }}", poll_interval=0.05)
        def greet(name: str) -> str:
            return f"echo hello {name}"

        greet("ops")
    op = dag.get_task("greet")
    ctx = context(task_id="greet", params={"ids": [{"instanceId": INSTANCES[0]}]})
    op.render_template_fields(ctx)  # as the task runner does; renders to the text of a list
    assert isinstance(op.instances, str)
    op.execute(ctx)
    step = recorded_step(ctx["ti"].xcoms["execution_id"])
    assert step.properties["content"] == "echo hello ops"
    assert step.properties["instances"] == [{"instanceId": INSTANCES[0]}]
    assert "user" not in step.properties and "workDir" not in step.properties


def test_a_failing_script_fails_with_the_operators_message(emulator: EmulatorHandle) -> None:
    op = shell_task(lambda: "false\n# emulator: exit 3\n", step_name="check")
    with pytest.raises(OosExecutionFailedError) as failed:
        op.execute(context())
    message = str(failed.value)
    assert "ended in state FAILED" in message
    assert "Failing step: 'check' (BCE::Agent::ExecuteShell)" in message
    assert "script exited with code 3" in message


def test_deferrable_returns_the_outputs_after_the_trigger(emulator: EmulatorHandle) -> None:
    op = shell_task(lambda: "# emulator: sleep 50\n# emulator: output LATE=1\n", deferrable=True)
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    assert isinstance(deferred.value.trigger, OosExecutionTrigger)
    _path, kwargs = deferred.value.trigger.serialize()
    (event,) = asyncio.run(run_trigger(OosExecutionTrigger(**kwargs)))
    outputs = op.execute_complete(ctx, event)
    assert outputs["LATE"] == "1" and event["state"] == "SUCCESS"


def test_a_retry_reattaches_to_the_succeeded_execution_instead_of_running_again(
    emulator: EmulatorHandle,
) -> None:
    first = shell_task(lambda: "echo once\n# emulator: output RUN=1\n").execute(context())
    again = shell_task(lambda: "echo once\n# emulator: output RUN=1\n").execute(context(try_number=2))
    assert again == first and first["RUN"] == "1"
    assert emulator.create_calls() == 1  # exactly one execution for the task instance


def test_outside_the_window_nothing_is_created(emulator: EmulatorHandle) -> None:
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    op = shell_task(lambda: "echo late", latest_start=past)
    with pytest.raises(AirflowSkipException):
        op.execute(context())
    assert emulator.create_calls() == 0


# ---- bad input: a clear error naming the field, before any API call -------------------------------


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        (lambda: "", ValueError, "empty script"),
        (lambda: "   \n", ValueError, "empty script"),
        (lambda: None, TypeError, "script"),
        (lambda: ["echo hi"], TypeError, "script"),
    ],
    ids=["empty", "blank", "none", "list"],
)
def test_a_bad_script_fails_before_any_call(
    emulator: EmulatorHandle, body: Any, error: type[Exception], field: str
) -> None:
    before = api_requests(emulator)
    with pytest.raises(error, match=field):
        shell_task(body).execute(context())
    assert api_requests(emulator) == before and emulator.create_calls() == 0


@pytest.mark.parametrize(
    ("instances", "match"),
    [
        ([], r"instances is empty"),
        (["web-1"], r"instances\[0\] 'web-1' is not a BCC instance id"),
        ([INSTANCES[0], "i-"], r"instances\[1\]"),
        ([{"id": "i-a"}], r'instances\[0\] must be \{"instanceId"'),
        ([INSTANCES[0], INSTANCES[0]], r"more than once"),
        ({"instanceId": "i-a"}, r"instances must be a list"),
        (None, r"instances is required"),
    ],
    ids=["empty", "bad-id", "bare-prefix", "bad-key", "duplicate", "a-dict", "missing"],
)
def test_bad_instances_fail_at_dag_parse_time(instances: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        shell_task(lambda: "echo hi", instances=instances)


def test_bad_rendered_instances_fail_before_any_call(emulator: EmulatorHandle) -> None:
    op = shell_task(lambda: "echo hi", instances="{{ params.ids }}")
    ctx = context(params={"ids": ["web-1"]})
    op.render_template_fields(ctx)
    before = api_requests(emulator)
    with pytest.raises(ValueError, match=r"instances\[0\] 'web-1'"):
        op.execute(ctx)
    assert api_requests(emulator) == before and emulator.create_calls() == 0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"work_dir": "tmp"}, "work_dir must be an absolute path"),
        ({"shell_user": " "}, "shell_user must be a non-empty string"),
        ({"step_timeout": 0}, "step_timeout must be"),
        ({"step_timeout": "10m"}, "step_timeout must be"),
        ({"step_name": "a b"}, "step_name must be"),
        ({"template_name": "stored"}, "remove template_name"),
        ({"wait_for_completion": False}, "wait_for_completion=False"),
    ],
)
def test_bad_step_options_fail_at_dag_parse_time(options: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        shell_task(lambda: "echo hi", **options)
