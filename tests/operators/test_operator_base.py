"""The base mixin (templated oos_conn_id, default_args, lazy hook), durable= on every Airflow, the
extension points of OosCreateExecutionOperator, and failures whose withLog read fails."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos import version_compat
from airflow_provider_oos.client.connection import DEFAULT_CONN_ID
from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.exceptions import OosExecutionFailedError
from airflow_provider_oos.operators import oos as operators_oos
from airflow_provider_oos.operators import templates
from airflow_provider_oos.operators.base import OosBaseHookMixin
from airflow_provider_oos.operators.oos import HAS_TASK_STATE_STORE, OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor
from tests.support.oos_server import Reply, ScriptedOosServer
from tests.support.oos_task_helpers import (
    api_requests,
    approve_when_paused,
    connection_json,
    shell,
    task_context,
    template,
)

QUICK = template("quick", shell("q"))


def every_oos_task(**kwargs: Any) -> list[Any]:
    return [
        OosCreateExecutionOperator(task_id="create", template=QUICK, **kwargs),
        templates.OosUpsertTemplateOperator(task_id="upsert", template=QUICK, **kwargs),
        templates.OosDeleteTemplateOperator(task_id="delete", template_name="quick", **kwargs),
        OosExecutionSensor(task_id="sense", execution_id="d-1", **kwargs),
    ]


def test_every_oos_task_has_a_templated_conn_id_defaulting_to_the_one_constant() -> None:
    for task in every_oos_task():
        assert isinstance(task, OosBaseHookMixin)
        assert "oos_conn_id" in task.template_fields
        assert task.oos_conn_id == DEFAULT_CONN_ID == "oos_default"
        with pytest.raises(ValueError, match="oos_conn_id must be a non-empty connection id"):
            type(task)(task_id="bad", oos_conn_id=" ", **_required(task))


def _required(task: Any) -> dict[str, Any]:
    return {
        "create": {"template": QUICK},
        "upsert": {"template": QUICK},
        "delete": {"template_name": "quick"},
        "sense": {"execution_id": "d-1"},
    }[task.task_id]


def test_default_args_set_the_conn_id_of_every_oos_task() -> None:
    with DAG(
        "conn_defaults",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        default_args={"oos_conn_id": "oos_prod"},
    ):
        tasks = every_oos_task()
    assert [task.oos_conn_id for task in tasks] == ["oos_prod"] * 4


def test_rendered_conn_id_is_the_one_the_hook_uses(
    oos_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OOS_BLUE", connection_json(oos_emulator))
    with DAG("conn_templated", schedule=None, start_date=datetime(2026, 1, 1), params={"conn": "oos_blue"}):
        op = OosCreateExecutionOperator(
            task_id="t", template=QUICK, oos_conn_id="{{ params.conn }}", poll_interval=0.05
        )
    context = {**task_context(), "params": {"conn": "oos_blue"}}
    op.render_template_fields(context)  # as the task runner does before execute
    assert op.execute(context)["state"] == "SUCCESS"
    assert op.hook.oos_conn_id == "oos_blue"

    blank = OosCreateExecutionOperator(task_id="t", template=QUICK, oos_conn_id="{{ params.conn }}")
    blank.render_template_fields({**task_context(), "params": {"conn": ""}})
    with pytest.raises(ValueError, match="oos_conn_id must be a non-empty"):
        blank.execute(task_context())
    assert oos_emulator.create_calls() == 1


def test_template_operators_keep_their_public_import_path() -> None:
    assert operators_oos.OosUpsertTemplateOperator is templates.OosUpsertTemplateOperator
    assert operators_oos.OosDeleteTemplateOperator is templates.OosDeleteTemplateOperator


def test_durable_is_accepted_on_every_airflow_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version_compat, "_durable_warning_given", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = OosCreateExecutionOperator(task_id="a", template=QUICK, durable=True)
        second = OosCreateExecutionOperator(task_id="b", template=QUICK, durable=False)
        plain = OosCreateExecutionOperator(task_id="c", template=QUICK)
    ours = [w for w in caught if "durable=" in str(w.message)]
    if HAS_TASK_STATE_STORE:  # Airflow >= 3.3: the mixin keeps the id for a retry
        assert ours == []
        assert (first.durable, second.durable, plain.durable) == (True, False, True)
    else:  # below 3.3: one warning, however many tasks pass it, saying it does nothing
        assert len(ours) == 1 and "no effect on Airflow < 3.3" in str(ours[0].message)
        assert (first.durable, second.durable, plain.durable) == (False, False, False)


class Extended(OosCreateExecutionOperator):
    """Records what the extension points see."""

    adopt: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[str, Any]] = []

    def before_create(self, context: Any) -> str | None:
        self.seen.append(("before_create", context["ti"].task_id))
        return self.adopt

    def on_still_running(self, execution: Execution, context: Any) -> None:
        self.seen.append(("running", execution.state))

    def on_pause_seen(self, execution: Execution, *, new_pause: bool, context: Any) -> None:
        self.seen.append(("paused", new_pause))


APPROVAL = template(
    "with-approval", shell("prepare", "# emulator: sleep 10"), {**shell("approve"), "manually": True}
)


def test_worker_loop_calls_the_extension_points(emulator: EmulatorHandle) -> None:
    approver = approve_when_paused(emulator, after=0.3)
    op = Extended(task_id="t", template=APPROVAL, poll_interval=0.05)
    assert op.execute(task_context())["state"] == "SUCCESS"
    approver.join()
    assert op.seen[0] == ("before_create", "oos_task")
    pauses = [new for kind, new in op.seen if kind == "paused"]
    assert (
        pauses[0] is True and pauses.count(True) == 1 and len(pauses) >= 2
    )  # once per pause, then each read
    running = [state for kind, state in op.seen if kind == "running"]
    assert "PAUSED" in running and "SUCCESS" not in running


def test_before_create_can_adopt_an_execution_or_stop(emulator: EmulatorHandle) -> None:
    first = OosCreateExecutionOperator(task_id="t", template=QUICK, poll_interval=0.05).execute(
        task_context()
    )
    adopting = Extended(task_id="t", template=QUICK, poll_interval=0.05)
    adopting.adopt = first["execution_id"]
    context = task_context()
    assert adopting.execute(context)["execution_id"] == first["execution_id"]
    assert context["ti"].xcoms["execution_id"] == first["execution_id"]
    assert emulator.create_calls() == 1

    class Closed(OosCreateExecutionOperator):
        def before_create(self, context: Any) -> str | None:
            raise RuntimeError("maintenance window closed")

    before = api_requests(emulator)
    with pytest.raises(RuntimeError, match="window closed"):
        Closed(task_id="t", template=QUICK).execute(task_context())
    assert emulator.create_calls() == 1 and api_requests(emulator) == before


def test_failure_still_reported_when_the_read_with_logs_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = {
        "id": "d-1",
        "state": "FAILED",
        "tasks": [{"id": "t-1", "state": "FAILED", "reason": "disk full", "operator": {"name": "migrate"}}],
    }
    with ScriptedOosServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", server.conn_json(max_retries=0))
        server.script("POST", "/v2/execution", Reply.ok({"id": "d-1"}))
        server.script(
            "GET",
            "/v2/execution",
            Reply.ok({"id": "d-1", "state": "RUNNING", "tasks": []}),
            Reply.ok(failed),
            Reply(status=503, json={"code": "ServiceUnavailable", "message": "busy"}),
        )
        with pytest.raises(OosExecutionFailedError) as caught:
            OosCreateExecutionOperator(task_id="t", template=QUICK, poll_interval=0.01).execute(
                task_context()
            )
        reads = server.calls("GET", "/v2/execution")
    message = str(caught.value)
    assert "'migrate'" in message and "Reason: disk full" in message
    assert "log could not be read" in message and "503" in message
    assert [r.query.get("withLog", "false") for r in reads] == ["false", "false", "true"]
