"""Chained pipeline: OOS step outputs feed Airflow tasks; a fire-and-forget run is awaited later.

What it shows
    1. ``build_release`` runs an ExecuteShell step and waits for it. Its XCom return value
       is a summary ``{"execution_id", "state", "console_url", "tasks": {step: {"state",
       "outputs"}}}``; a step's ``outputs`` is its OOS ``outputContext``.
    2. ``announce_release`` (a plain ``@task``) reads the build's outputs from that summary
       and fails loudly if an expected output is missing.
    3. ``start_cache_warmup`` starts a second execution and does not wait
       (``wait_for_completion=False``); it pushes the execution id to XCom at once.
    4. Other work runs meanwhile; ``wait_for_cache_warmup`` (``OosExecutionSensor`` in
       reschedule mode, so no worker slot is held between pokes) awaits that execution by
       the id pulled from XCom.

    The ``# emulator: output KEY=VALUE`` lines in the scripts are plain shell comments on a
    real host; the local OOS emulator reads them to simulate the step's outputs. On a real
    host, publish outputs the way your OOS shell action expects.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - Params ``release`` and ``instance_ids``; the scripts ``BUILD_SCRIPT`` and
      ``WARMUP_SCRIPT``; ``POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))

STEP_LIMITS = {"retries": 0, "retryInterval": 60_000, "timeout": 900_000}

BUILD_SCRIPT = """#!/bin/bash
set -euo pipefail
echo "building release {{ params.release }}"
# emulator: output ARTIFACT_VERSION={{ params.release }}
# emulator: output ARTIFACT_URL=bos://releases/app-{{ params.release }}.tar.gz
"""

WARMUP_SCRIPT = """#!/bin/bash
set -euo pipefail
echo "warming caches for {{ params.release }}"
# emulator: sleep 5
"""


def shell_template(name: str, step: str, script: str, instance_refs: Any) -> dict[str, Any]:
    """A one-step inline template running ``script`` on the instances with the cloud assistant."""
    return {
        "name": name,
        "linear": True,
        "operators": [
            {
                "name": step,
                "operator": "BCE::Agent::ExecuteShell",
                **STEP_LIMITS,
                "properties": {
                    "content": script,
                    "instances": instance_refs,
                },
            }
        ],
    }


with DAG(
    dag_id="example_oos_chained_pipeline",
    doc_md=__doc__,
    description="OOS outputs flowing into Airflow tasks, plus a run awaited by a sensor",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["oos", "example", "pipeline"],
    params={
        "release": Param("1.4.2", type="string", description="Release version to build."),
        "instance_ids": Param(
            ["i-pipe-1"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instances that run the build and warm-up scripts.",
        ),
    },
) as dag:

    @task
    def instance_refs(params: dict[str, Any]) -> list[dict[str, str]]:
        """OOS actions take instances as ``[{"instanceId": "i-…"}]``."""
        return [{"instanceId": instance_id} for instance_id in params["instance_ids"]]

    targets = instance_refs()

    # [START howto_operator_oos_create_execution_outputs]
    build_release = OosCreateExecutionOperator(
        task_id="build_release",
        oos_conn_id="oos_default",
        template=shell_template("airflow-build-release", "build", BUILD_SCRIPT, targets),
        description="Build release {{ params.release }}",
        poll_interval=POLL_SECONDS,
        timeout=30 * 60,
    )

    @task
    def announce_release(summary: dict[str, Any]) -> str:
        """Use the build step's outputs; a missing output fails this task (and the run)."""
        outputs = summary["tasks"]["build"]["outputs"]
        missing = {"ARTIFACT_VERSION", "ARTIFACT_URL"} - outputs.keys()
        if missing:
            raise ValueError(f"build step of {summary['execution_id']} did not output {sorted(missing)}")
        message = f"release {outputs['ARTIFACT_VERSION']} is at {outputs['ARTIFACT_URL']}"
        print(message)
        return message

    # [END howto_operator_oos_create_execution_outputs]

    # [START howto_operator_oos_create_execution_no_wait]
    start_cache_warmup = OosCreateExecutionOperator(
        task_id="start_cache_warmup",
        oos_conn_id="oos_default",
        template=shell_template("airflow-cache-warmup", "warmup", WARMUP_SCRIPT, targets),
        description="Warm caches for {{ params.release }}",
        wait_for_completion=False,
    )
    # [END howto_operator_oos_create_execution_no_wait]

    @task
    def update_release_notes(announcement: str) -> None:
        """Stands for any work that can run while the warm-up is still going."""
        print(f"release notes: {announcement}")

    # [START howto_sensor_oos_execution]
    wait_for_cache_warmup = OosExecutionSensor(
        task_id="wait_for_cache_warmup",
        oos_conn_id="oos_default",
        execution_id="{{ ti.xcom_pull(task_ids='start_cache_warmup', key='execution_id') }}",
        mode="reschedule",
        poke_interval=POLL_SECONDS,
        timeout=30 * 60,
    )
    # [END howto_sensor_oos_execution]

    announcement = announce_release(build_release.output)
    build_release >> start_cache_warmup
    [update_release_notes(announcement), start_cache_warmup] >> wait_for_cache_warmup
