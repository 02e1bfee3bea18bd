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
from oos_emulator.process import DEFAULT_TEST_TIME_SCALE, EmulatorHandle, start_emulator

from scripts.deploy.config import ALL_INSTANCES, EXAMPLE_INSTANCES
from tests.support.dag_runner import EXAMPLE_DAGS, REPO, DagTestProcess, DagTestRun, OosApi

# The DAG runs share one module fixture that may wait minutes on a busy machine.
pytestmark = pytest.mark.timeout(600)

# Each example's own fake instances (its Param defaults), seeded by `make airflow` and the README.
MAINTENANCE_IDS = EXAMPLE_INSTANCES["example_oos_maintenance_window"]
PIPELINE_IDS = EXAMPLE_INSTANCES["example_oos_chained_pipeline"]
BATCH_IDS = EXAMPLE_INSTANCES["example_oos_mapped_batches"]
DIAGNOSTICS_IDS = EXAMPLE_INSTANCES["example_oos_template_upsert"]
SHELL_IDS = EXAMPLE_INSTANCES["example_oos_shell"]

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
    "example_oos_shell": {
        "tags": {"oos", "example", "shell"},
        "params": {"instance_ids", "max_percent"},
    },
    # Its run (with a pause mid-window) is in tests/test_example_weekly_window.py.
    "example_oos_weekly_window": {
        "tags": {"oos", "example", "maintenance", "window"},
        "params": {"instance_ids", "maintenance_script"},
    },
    # Its run (an execution of the watched template, followed) is in tests/test_example_event_driven.py.
    "example_oos_event_driven": {
        "tags": {"oos", "example", "event-driven"},
        "params": {"instance_ids", "execution_id"},
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


def test_each_example_has_its_own_instances_and_every_emulator_command_seeds_them(dag_bag: Any) -> None:
    """Examples run side by side never stop each other's instances, and none names a missing one."""
    defaults = {dag_id: dag_bag.dags[dag_id].params["instance_ids"] for dag_id in EXPECTED}
    assert defaults == EXAMPLE_INSTANCES
    assert len(set(ALL_INSTANCES)) == len(ALL_INSTANCES), "two examples share an instance"
    readme = (REPO / "README.md").read_text()
    examples_section = readme.split("## Example DAGs", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in examples_section.splitlines() if line.lstrip().startswith("oos-emulator ")]
    assert commands, "the README gives no emulator command"
    for command in commands:
        seeded = command.split("--instances ", 1)[1].split()[0].split(",")
        assert set(seeded) >= set(ALL_INSTANCES), f"README command does not seed every example: {command}"


# Context keys an Airflow 3 run has only when it has a logical date (a REST-triggered run has none).
LOGICAL_DATE_ONLY = {
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "ts_nodash_with_tz",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_example_templates_render_without_a_logical_date(dag_bag: Any, dag_id: str) -> None:
    """`{{ ds }}` fails a run triggered with no logical date before any API call (issue 11, item 3)."""
    import jinja2.meta

    env = jinja2.Environment()
    for task in dag_bag.dags[dag_id].tasks:
        fields = getattr(task, "partial_kwargs", {}) | {
            f: getattr(task, f, None) for f in task.template_fields
        }
        for name, value in fields.items():
            for text in _strings(value):
                if text.endswith(".json") and (EXAMPLE_DAGS / text).is_file():
                    text = (EXAMPLE_DAGS / text).read_text()  # a template file: its content is rendered
                used = jinja2.meta.find_undeclared_variables(env.parse(text)) & LOGICAL_DATE_ONLY
                assert not used, f"{dag_id}.{task.task_id}.{name} uses {sorted(used)}: use run_id"


def test_maintenance_script_is_a_multiline_param(dag_bag: Any) -> None:
    """A one-line input joins the script's lines in the trigger form (issue 11, item 4)."""
    param = dag_bag.dags["example_oos_maintenance_window"].params.get_param("maintenance_script")
    assert param.schema["type"] == "string"
    assert param.schema["format"] == "multiline"
    assert "\n" in param.value


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
    "example_oos_chained_pipeline": Planned(PIPELINE_IDS, conf={"release": RELEASE}),
    "example_oos_mapped_batches": Planned(BATCH_IDS, conf={"batch_size": 2}),
    "example_oos_template_upsert": Planned(DIAGNOSTICS_IDS, conf={"delete_template": True}),
    "example_oos_shell": Planned(SHELL_IDS, conf={"max_percent": 80}),
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
    assert (detail.properties or {})["instances"] == [{"instanceId": i} for i in DIAGNOSTICS_IDS]
    outputs = detail.tasks[0].output_context or {}
    assert f"on {', '.join(DIAGNOSTICS_IDS)}" in outputs["stdout"]
    assert outputs["COLLECTED"] == "uptime,disk,memory"
    assert not _api(emulator).template_exists(name), "delete_template=true should remove the template"


def test_oos_shell_runs_the_returned_script_and_passes_its_outputs_on(
    dag_runs: Runs,
) -> None:
    run, emulator = dag_runs["example_oos_shell"]

    assert run.succeeded, run.explain()
    (execution,) = emulator.executions()
    assert execution["templateName"] == "airflow-shell-example_oos_shell-check_disk"
    assert execution["state"] == "SUCCESS"
    detail = _api(emulator).execution(execution["id"])
    (step,) = (detail.template.operators or []) if detail.template else []
    assert step.operator == "BCE::Agent::ExecuteShell"
    script = (step.properties or {})["content"]
    # The script the function returned, with the run's conf (max_percent 80) in it, sent as is.
    assert "df --output=pcent /" in script and "-le 80 ]" in script and "${usage}" in script
    assert step.properties["instances"] == [{"instanceId": i} for i in SHELL_IDS]
    assert (step.properties["user"], step.properties["workDir"], step.timeout) == ("root", "/tmp", 600_000)
    # report_disk read the step's outputs from the decorator's XCom return value.
    assert "root disk at 42% on every checked instance" in run.output
