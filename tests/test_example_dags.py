"""The example DAGs: they import cleanly, say what they are, and each runs to success.

Each DAG runs with `airflow dags test` in a subprocess (the Airflow of this interpreter, the
AIRFLOW_HOME the Makefile sets) against the OOS emulator over HTTP; afterwards the emulator is
asked what happened: which executions exist, in which state, with which outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_oos.emulator.process import DEFAULT_TEST_TIME_SCALE, EmulatorHandle, start_emulator
from tests.support.dag_runner import EXAMPLE_DAGS, DagTestProcess, DagTestRun, OosApi

# The DAG runs share one module fixture that may wait minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)

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


def test_examples_wait_the_way_their_docs_say(dag_bag: Any) -> None:
    assert dag_bag.dags["example_oos_maintenance_window"].get_task("maintenance_window").deferrable is True
    pipeline = dag_bag.dags["example_oos_chained_pipeline"]
    assert pipeline.get_task("start_cache_warmup").wait_for_completion is False
    assert pipeline.get_task("wait_for_cache_warmup").mode == "reschedule"
    rolling = dag_bag.dags["example_oos_mapped_batches"].get_task("restart_batch")
    assert rolling.max_active_tis_per_dagrun == 1


@dataclass(frozen=True)
class Planned:
    """One example DAG run: the emulator it talks to (and its speed) and the run's conf."""

    instances: list[str]
    time_scale: float = DEFAULT_TEST_TIME_SCALE
    conf: dict[str, Any] | None = None


# Each example DAG id → its finished run and the emulator it ran against.
Runs = dict[str, tuple[DagTestRun, EmulatorHandle]]

RELEASE = "7.7.7-ci"
PLANS = {
    # Slow enough (~0.5 s a step) that the execution is still running when the operator checks it
    # right after creating it, so the run really defers to the (in-process) triggerer.
    "example_oos_maintenance_window": Planned(MAINTENANCE_IDS, time_scale=0.5),
    "example_oos_chained_pipeline": Planned(MAINTENANCE_IDS, conf={"release": RELEASE}),
    "example_oos_mapped_batches": Planned(BATCH_IDS, conf={"batch_size": 2}),
    "example_oos_template_upsert": Planned(MAINTENANCE_IDS, conf={"delete_template": True}),
}


@pytest.fixture(scope="module")
def dag_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Runs]:
    """Run every example DAG at once, each against its own emulator and metadata DB copy.

    Each run spends most of its time starting Airflow, so running them side by side keeps the
    module within its time budget; separate emulators keep their instances and executions apart.
    """
    emulators = {
        dag_id: start_emulator(time_scale=plan.time_scale, instances=plan.instances)
        for dag_id, plan in PLANS.items()
    }
    try:
        processes = {
            dag_id: DagTestProcess(
                dag_id,
                conn_json=emulators[dag_id].conn_json,
                conf=plan.conf,
                workdir=tmp_path_factory.mktemp(dag_id),
            )
            for dag_id, plan in PLANS.items()
        }
        yield {dag_id: (process.wait(), emulators[dag_id]) for dag_id, process in processes.items()}
    finally:
        for emulator in emulators.values():
            emulator.stop()


def _executions(emulator: EmulatorHandle) -> dict[str, dict[str, Any]]:
    """The emulator's executions by template name."""
    return {item["templateName"]: item for item in emulator.executions()}


def _api(emulator: EmulatorHandle) -> OosApi:
    return OosApi(emulator.url, emulator.access_key, emulator.secret_key)


def test_maintenance_window_runs_deferred_to_success(
    dag_runs: Runs,
) -> None:
    run, emulator = dag_runs["example_oos_maintenance_window"]

    assert run.succeeded, run.explain()
    assert run.deferred, "the deferrable operator should have waited in the (in-process) triggerer"
    (execution,) = emulator.executions()
    assert execution["state"] == "SUCCESS"
    assert execution["tasks"] == {
        "stop_instances": "SUCCESS",
        "maintenance": "SUCCESS",
        "start_instances": "SUCCESS",
    }
    detail = _api(emulator).execution(execution["id"])
    stopped = detail.tasks[0].output_context or {}
    assert [ref["instanceId"] for ref in stopped["instances"]] == MAINTENANCE_IDS
    tags = {tag.key: tag.value for tag in detail.tags or []}
    assert tags["airflow-dag"] == "example_oos_maintenance_window"
    assert tags["airflow-task"] == "maintenance_window"
    assert tags["purpose"] == "maintenance-window"
    # Stopped and started again: the window leaves the instances running.
    assert emulator.instance_states() == dict.fromkeys(MAINTENANCE_IDS, "Running")


def test_chained_pipeline_feeds_outputs_downstream_and_awaits_with_sensor(
    dag_runs: Runs,
) -> None:
    run, emulator = dag_runs["example_oos_chained_pipeline"]

    assert run.succeeded, run.explain()
    executions = _executions(emulator)
    assert set(executions) == {"airflow-build-release", "airflow-cache-warmup"}
    assert {item["state"] for item in executions.values()} == {"SUCCESS"}
    # announce_release read the build step's outputs from the operator's XCom summary (it fails
    # the run when they are missing) and printed them.
    assert f"release {RELEASE} is at bos://releases/app-{RELEASE}.tar.gz" in run.output
    # The sensor awaited the fire-and-forget execution by the id pulled from XCom.
    assert executions["airflow-cache-warmup"]["id"] in run.output


def test_mapped_batches_start_one_execution_per_batch(
    dag_runs: Runs,
) -> None:
    run, emulator = dag_runs["example_oos_mapped_batches"]

    assert run.succeeded, run.explain()
    executions = _executions(emulator)
    assert set(executions) == {f"airflow-rolling-restart-batch-{n}" for n in (1, 2, 3)}
    assert {item["state"] for item in executions.values()} == {"SUCCESS"}
    instances = emulator.admin("GET", "instances")["instances"]
    assert {item["instanceId"]: item.get("reboots") for item in instances} == dict.fromkeys(BATCH_IDS, 1)


def test_template_upsert_runs_by_name_then_deletes(
    dag_runs: Runs,
) -> None:
    run, emulator = dag_runs["example_oos_template_upsert"]
    name = "airflow-example-collect-diagnostics"

    assert run.succeeded, run.explain()
    execution = _executions(emulator)[name]
    assert execution["state"] == "SUCCESS"
    detail = _api(emulator).execution(execution["id"])
    # The stored template's {"Ref": "instances"} was filled from the execution properties.
    assert (detail.properties or {})["instances"] == [{"instanceId": i} for i in MAINTENANCE_IDS]
    outputs = detail.tasks[0].output_context or {}
    assert f"on {', '.join(MAINTENANCE_IDS)}" in outputs["stdout"]
    assert outputs["COLLECTED"] == "uptime,disk,memory"
    assert not _api(emulator).template_exists(name), "delete_template=true should remove the template"
