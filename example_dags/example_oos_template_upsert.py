"""Templates as code: keep an OOS template next to the DAG, upsert it, then run it by name.

What it shows
    1. ``upsert_template`` (``OosUpsertTemplateOperator``) creates the template from
       ``templates/example_oos_collect_diagnostics.json`` or updates it to match the file.
       It is idempotent: when OOS already holds exactly this template, nothing changes.
    2. ``collect_diagnostics`` runs the stored template by name and passes the template's
       parameter ``instances`` as execution ``properties`` (the template refers to it with
       ``{"Ref": "instances"}``).
    3. ``delete_template`` (``OosDeleteTemplateOperator``) removes the template again, only
       when the run is triggered with the Param ``delete_template`` set to true (clean-up
       of a short-lived template); by default the template stays for the next run.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - The template file (its ``name`` must match ``TEMPLATE_NAME``), the Param
      ``instance_ids`` and ``POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_oos.operators.oos import (
    OosCreateExecutionOperator,
    OosDeleteTemplateOperator,
    OosUpsertTemplateOperator,
)

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))

# Must equal "name" in the template file.
TEMPLATE_NAME = "airflow-example-collect-diagnostics"

with DAG(
    dag_id="example_oos_template_upsert",
    doc_md=__doc__,
    description="Upsert an OOS template kept next to the DAG, then run it by name",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["oos", "example", "templates"],
    params={
        "instance_ids": Param(
            ["i-diag-1", "i-diag-2"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instances to collect diagnostics from.",
        ),
        "delete_template": Param(
            False, type="boolean", description="Delete the template from OOS after the run."
        ),
    },
) as dag:
    # A path ending in .json is read (and Jinja-rendered) relative to this DAG's folder.
    # [START howto_operator_oos_upsert_template]
    upsert_template = OosUpsertTemplateOperator(
        task_id="upsert_template",
        oos_conn_id="oos_default",
        template="templates/example_oos_collect_diagnostics.json",
    )
    # [END howto_operator_oos_upsert_template]

    @task
    def instance_refs(params: dict[str, Any]) -> list[dict[str, str]]:
        """The template's ``instances`` parameter: ``[{"instanceId": "i-…"}]``."""
        return [{"instanceId": instance_id} for instance_id in params["instance_ids"]]

    # [START howto_operator_oos_create_execution_by_name]
    collect_diagnostics = OosCreateExecutionOperator(
        task_id="collect_diagnostics",
        oos_conn_id="oos_default",
        template_name=TEMPLATE_NAME,
        properties={"instances": instance_refs()},
        description="Diagnostics {{ run_id }}",  # not ds: runs may have no logical date
        poll_interval=POLL_SECONDS,
        timeout=30 * 60,
    )
    # [END howto_operator_oos_create_execution_by_name]

    @task.short_circuit
    def delete_requested(params: dict[str, Any]) -> bool:
        return bool(params["delete_template"])

    # [START howto_operator_oos_delete_template]
    delete_template = OosDeleteTemplateOperator(
        task_id="delete_template",
        oos_conn_id="oos_default",
        template_name=TEMPLATE_NAME,
    )
    # [END howto_operator_oos_delete_template]

    upsert_template >> collect_diagnostics >> delete_requested() >> delete_template
