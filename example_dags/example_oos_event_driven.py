"""Event-driven: a DAG that runs each time an OOS execution of a template finishes.

What it shows
    1. The asset ``oos://template/airflow-example-nightly-maintenance`` is watched by an
       ``OosExecutionEventTrigger``: the triggerer polls list-executions of that template and
       records one asset event per run of OOS's own schedule (``trigger="CRON"``; an execution
       started by hand is left out) that ends (any final state), exactly once, even across a
       triggerer restart (see the trigger's docstring for the look-back).
    2. The DAG is scheduled on that asset. ``finished_executions`` reads the execution ids from
       ``triggering_asset_events`` (one run may carry several events) and reads each execution
       with ``OosHook``; run by hand, it reads the Param ``execution_id`` instead.
    3. ``post_check`` runs a follow-up OOS step on the Param ``instance_ids`` that names the
       executions it follows.

    When OOS's scheduler runs the watched template (on the emulator: ``POST
    /emulator/cron-executions``), one DAG run follows within ``POLL_SECONDS``.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - ``WATCHED_TEMPLATE`` (and, as keywords of the trigger, ``states``, ``trigger`` (None: every
      execution) or ``cron_execution_name``), the Param ``instance_ids``, ``POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.triggers.oos import OosExecutionEventTrigger

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))
WATCHED_TEMPLATE = "airflow-example-nightly-maintenance"

# [START howto_trigger_oos_execution_event]
finished_maintenance = Asset(
    name="oos_nightly_maintenance_finished",
    uri=f"oos://template/{WATCHED_TEMPLATE}",
    watchers=[
        AssetWatcher(
            name="oos_nightly_maintenance_watch",
            trigger=OosExecutionEventTrigger(WATCHED_TEMPLATE, poll_interval=POLL_SECONDS, trigger="CRON"),
        )
    ],
)
# [END howto_trigger_oos_execution_event]

with DAG(
    dag_id="example_oos_event_driven",
    description="Runs after each OOS execution of the nightly maintenance template",
    schedule=[finished_maintenance],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["oos", "example", "event-driven"],
    doc_md=__doc__,
    params={
        "instance_ids": Param(["i-event-1"], type="array", description="Instances to post-check."),
        # Nullable: the trigger form treats an empty string as no value, and a plain "string" then
        # fails its validation (the Trigger button stays disabled).
        "execution_id": Param(
            None, type=["null", "string"], description="Run by hand: the execution to follow."
        ),
    },
) as dag:
    # [START howto_trigger_oos_event_payload]
    @task
    def finished_executions(
        triggering_asset_events: Any = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The executions this run follows: from the asset events, or the Param when run by hand."""
        from airflow_provider_oos.hooks.oos import OosHook

        # Indexed, not .get() on a dict: an Asset with watchers is unhashable on Airflow 3.1.
        events = triggering_asset_events[finished_maintenance] if triggering_asset_events else []
        ids = [event.extra["payload"]["execution_id"] for event in events if "payload" in event.extra]
        if not ids and (params or {}).get("execution_id"):
            ids = [params["execution_id"]]  # type: ignore[index]
        if not ids:
            raise ValueError(
                "No OOS execution to follow: no asset event, and the Param execution_id is empty"
            )
        hook = OosHook()
        found = []
        for execution_id in ids:
            execution = hook.get_execution(execution_id)
            print(f"OOS execution {execution.id} of {WATCHED_TEMPLATE}: {execution.state}")
            found.append({"execution_id": execution.id, "state": execution.state})
        return found

    # [END howto_trigger_oos_event_payload]

    @task
    def instance_refs(params: dict[str, Any]) -> list[dict[str, str]]:
        """OOS actions take instances as ``[{"instanceId": "i-…"}]``."""
        return [{"instanceId": instance_id} for instance_id in params["instance_ids"]]

    followed = finished_executions()

    post_check = OosCreateExecutionOperator(
        task_id="post_check",
        template={
            "name": "airflow-example-post-check",
            "operators": [
                {
                    "name": "post_check",
                    "operator": "BCE::Agent::ExecuteShell",
                    "properties": {
                        "content": "echo post-check after "
                        "{{ ti.xcom_pull(task_ids='finished_executions') | map(attribute='execution_id') "
                        "| join(',') }}",
                        "instances": instance_refs(),
                    },
                }
            ],
        },
        poll_interval=POLL_SECONDS,
    )

    followed >> post_check
