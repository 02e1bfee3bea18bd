"""The example DAGs: they import cleanly, say what they are, and each runs to success.

Each DAG runs with `airflow dags test` in a subprocess (the Airflow of this interpreter, the
AIRFLOW_HOME the Makefile sets) against the OOS emulator over HTTP; afterwards the emulator is
asked what happened: which executions exist, in which state, with which outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dag_runner import EXAMPLE_DAGS, OosApi, run_dag_test

from airflow_provider_oos.emulator.process import EmulatorHandle

MAINTENANCE_IDS = ["i-maint-1", "i-maint-2"]
BATCH_IDS = ["i-maint-1", "i-maint-2", "i-batch-3", "i-batch-4", "i-batch-5"]

# What the README promises about each example: its tags and the Params a user edits.
EXPECTED: dict[str, dict[str, Any]] = {
    "example_oos_maintenance_window": {
        "tags": {"oos", "example", "maintenance"},
        "params": {"instance_ids", "maintenance_script"},
    },
    "example_oos_chained_pipeline": {
        "tags": {"oos", "example", "pipeline"},
        "params": {"release", "instance_ids"},
    },
    "example_oos_mapped_batches": {
        "tags": {"oos", "example", "mapping"},
        "params": {"instance_ids", "batch_size"},
    },
    "example_oos_template_upsert": {
        "tags": {"oos", "example", "templates"},
        "params": {"instance_ids", "delete_template"},
    },
}


def _dag_bag() -> Any:
    try:  # Airflow >= 3.2
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(EXAMPLE_DAGS))


@pytest.fixture(scope="module")
def dag_bag() -> Any:
    return _dag_bag()


def test_example_dags_import_without_errors(dag_bag: Any) -> None:
    assert dag_bag.import_errors == {}
    assert set(dag_bag.dags) == set(EXPECTED)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_example_dag_is_documented_and_editable(dag_bag: Any, dag_id: str) -> None:
    dag = dag_bag.dags[dag_id]
    assert set(dag.tags) == EXPECTED[dag_id]["tags"]
    assert set(dag.params) == EXPECTED[dag_id]["params"]
    assert dag.catchup is False
    assert dag.doc_md and "What to edit" in dag.doc_md
    oos_tasks = [task for task in dag.tasks if task.task_type.startswith("Oos")]
    assert oos_tasks, f"{dag_id} has no OOS task"
    # A mapped task keeps its fixed arguments in partial_kwargs.
    conn_ids = {
        getattr(task, "partial_kwargs", {}).get("oos_conn_id", None) or task.oos_conn_id for task in oos_tasks
    }
    assert conn_ids == {"oos_default"}


@pytest.fixture
def emulator(oos_emulator: EmulatorHandle) -> EmulatorHandle:
    oos_emulator.seed_instances(BATCH_IDS)
    return oos_emulator


@pytest.fixture
def oos_api(emulator: EmulatorHandle) -> OosApi:
    return OosApi(emulator.url, emulator.access_key, emulator.secret_key)


def _executions(emulator: EmulatorHandle) -> dict[str, dict[str, Any]]:
    """The emulator's executions by template name."""
    return {item["templateName"]: item for item in emulator.executions()}


def test_maintenance_window_runs_deferred_to_success(
    oos_emulator_factory: Callable[..., EmulatorHandle],
) -> None:
    # Slow enough (~0.5 s a step) that the execution is still running when the operator checks
    # it right after creating it, so it really defers.
    emulator = oos_emulator_factory(time_scale=0.5, instances=MAINTENANCE_IDS)
    oos_api = OosApi(emulator.url, emulator.access_key, emulator.secret_key)
    run = run_dag_test("example_oos_maintenance_window", conn_json=emulator.conn_json)

    assert run.succeeded, run.explain()
    assert run.deferred, "the deferrable operator should have waited in the (in-process) triggerer"
    (execution,) = emulator.executions()
    assert execution["state"] == "SUCCESS"
    assert execution["tasks"] == {
        "stop_instances": "SUCCESS",
        "maintenance": "SUCCESS",
        "start_instances": "SUCCESS",
    }
    detail = oos_api.execution(execution["id"])
    stopped = detail.tasks[0].output_context or {}
    assert [ref["instanceId"] for ref in stopped["instances"]] == MAINTENANCE_IDS
    tags = {tag.key: tag.value for tag in detail.tags or []}
    assert tags["airflow-dag"] == "example_oos_maintenance_window"
    assert tags["airflow-task"] == "maintenance_window"
    assert tags["purpose"] == "maintenance-window"
    # Stopped and started again: the window leaves the instances running.
    states = emulator.instance_states()
    assert {i: states[i] for i in MAINTENANCE_IDS} == dict.fromkeys(MAINTENANCE_IDS, "Running")


def test_chained_pipeline_feeds_outputs_downstream_and_awaits_with_sensor(
    emulator: EmulatorHandle,
) -> None:
    release = "7.7.7-ci"
    run = run_dag_test(
        "example_oos_chained_pipeline", conn_json=emulator.conn_json, conf={"release": release}
    )

    assert run.succeeded, run.explain()
    executions = _executions(emulator)
    assert set(executions) == {"airflow-build-release", "airflow-cache-warmup"}
    assert {item["state"] for item in executions.values()} == {"SUCCESS"}
    # announce_release read the build step's outputs from the operator's XCom summary (it fails
    # the run when they are missing) and printed them.
    assert f"release {release} is at bos://releases/app-{release}.tar.gz" in run.output
    # The sensor awaited the fire-and-forget execution by the id pulled from XCom.
    warmup_id = executions["airflow-cache-warmup"]["id"]
    assert warmup_id in run.output


def test_mapped_batches_start_one_execution_per_batch(emulator: EmulatorHandle) -> None:
    run = run_dag_test("example_oos_mapped_batches", conn_json=emulator.conn_json, conf={"batch_size": 2})

    assert run.succeeded, run.explain()
    executions = _executions(emulator)
    assert set(executions) == {f"airflow-rolling-restart-batch-{n}" for n in (1, 2, 3)}
    assert {item["state"] for item in executions.values()} == {"SUCCESS"}
    reboots = {
        item["instanceId"]: item.get("reboots") for item in emulator.admin("GET", "instances")["instances"]
    }
    assert reboots == dict.fromkeys(BATCH_IDS, 1)


def test_template_upsert_runs_by_name_then_deletes(emulator: EmulatorHandle, oos_api: OosApi) -> None:
    name = "airflow-example-collect-diagnostics"
    run = run_dag_test(
        "example_oos_template_upsert", conn_json=emulator.conn_json, conf={"delete_template": True}
    )

    assert run.succeeded, run.explain()
    execution = _executions(emulator)[name]
    assert execution["state"] == "SUCCESS"
    detail = oos_api.execution(execution["id"])
    # The stored template's {"Ref": "instances"} was filled from the execution properties.
    assert (detail.properties or {})["instances"] == [{"instanceId": i} for i in MAINTENANCE_IDS]
    outputs = detail.tasks[0].output_context or {}
    assert f"on {', '.join(MAINTENANCE_IDS)}" in outputs["stdout"]
    assert outputs["COLLECTED"] == "uptime,disk,memory"
    assert not oos_api.template_exists(name), "delete_template=true should remove the template"
