"""Scheduled maintenance window: stop instances, run a maintenance script, start them again.

What it shows
    One Airflow task runs a whole OOS execution built from an *inline* linear template
    (no template has to exist in OOS beforehand):

        stop_instances (BCE::BCC::StopInstance)
          -> maintenance (BCE::Agent::ExecuteShell)
          -> start_instances (BCE::BCC::StartInstance)

    The task is deferrable: while OOS works, the wait runs in the triggerer and no worker
    slot is held. If any step fails, the Airflow task fails with the step's name, reason
    and log tail; the "OOS Execution" link on the task opens the execution in the console.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``): login = Access Key ID,
      password = Secret Access Key, extra ``{"region": "bj"}``.
    - Params ``instance_ids`` and ``maintenance_script`` (defaults below, or per run from
      the trigger form), the ``schedule`` (Sundays 03:00 Beijing time) and ``POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

# How often to ask OOS for progress. Maintenance takes minutes, so a few polls a minute are
# plenty; the demo and the tests lower it through the environment.
POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))

# Every step carries explicit retries/retryInterval/timeout (ms): OOS defaults differ by source.
STEP_LIMITS = {"retries": 0, "retryInterval": 60_000, "timeout": 1_800_000}


# [START howto_oos_inline_template]
def build_template(instance_refs: Any) -> dict[str, Any]:
    """The OOS template for one maintenance window; ``instance_refs`` is filled in at run time."""
    return {
        "name": "airflow-maintenance-window",
        "description": "Stop, maintain and start BCC instances (from Airflow)",
        "linear": True,
        "operators": [
            {
                "name": "stop_instances",
                "operator": "BCE::BCC::StopInstance",
                **STEP_LIMITS,
                "properties": {"instances": instance_refs},
            },
            {
                "name": "maintenance",
                "operator": "BCE::Agent::ExecuteShell",
                **STEP_LIMITS,
                # Runs through the cloud assistant while the instances are down.
                "properties": {"content": "{{ params.maintenance_script }}"},
            },
            {
                "name": "start_instances",
                "operator": "BCE::BCC::StartInstance",
                **STEP_LIMITS,
                "properties": {"instances": instance_refs},
            },
        ],
    }


# [END howto_oos_inline_template]


with DAG(
    dag_id="example_oos_maintenance_window",
    doc_md=__doc__,
    description="Weekly maintenance window run as one OOS execution",
    schedule="0 3 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["oos", "example", "maintenance"],
    params={
        "instance_ids": Param(
            ["i-maint-1", "i-maint-2"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instance ids to stop, maintain and start again.",
        ),
        # format="multiline": the trigger form edits the script in a text area, keeping its lines.
        "maintenance_script": Param(
            "#!/bin/bash\nset -euo pipefail\necho 'maintenance window: rotate logs, clean caches'\n",
            type="string",
            format="multiline",
            description="Shell script of the maintenance step (BCE::Agent::ExecuteShell).",
        ),
    },
) as dag:

    @task
    def instance_refs(params: dict[str, Any]) -> list[dict[str, str]]:
        """BCC actions take instances as ``[{"instanceId": "i-…"}]``."""
        return [{"instanceId": instance_id} for instance_id in params["instance_ids"]]

    # [START howto_operator_oos_create_execution_deferrable]
    OosCreateExecutionOperator(
        task_id="maintenance_window",
        oos_conn_id="oos_default",
        template=build_template(instance_refs()),
        # run_id, not ds: a run triggered without a logical date (the REST API's default in
        # Airflow 3) has no ds, and the template would fail before any API call.
        description="Maintenance window {{ run_id }}",
        tags={"purpose": "maintenance-window"},
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=2 * 60 * 60,
    )
    # [END howto_operator_oos_create_execution_deferrable]
