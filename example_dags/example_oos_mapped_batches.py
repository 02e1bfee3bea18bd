"""Rolling restart in batches: one OOS execution per batch, with dynamic task mapping.

What it shows
    ``plan_batches`` splits the ``instance_ids`` Param into batches of ``batch_size`` and
    returns one inline OOS template per batch (reboot the batch, then a health check).
    ``OosCreateExecutionOperator.partial(...).expand(template=...)`` turns that list into one
    mapped task instance -- one OOS execution -- per batch. ``max_active_tis_per_dagrun=1``
    makes it rolling: the next batch starts only when the previous one is done. Each batch
    is its own task instance with its own "OOS Execution" link: a failed batch fails only
    that instance (the others still run) and can be cleared and retried alone.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - Params ``instance_ids`` and ``batch_size``; ``HEALTH_CHECK`` (the per-batch check);
      ``POLL_SECONDS``. Raise ``max_active_tis_per_dagrun`` to restart batches in parallel.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))

STEP_LIMITS = {"retries": 1, "retryInterval": 30_000, "timeout": 900_000}

HEALTH_CHECK = """#!/bin/bash
set -euo pipefail
systemctl is-system-running --wait || true
echo healthy
"""


def batch_template(batch_no: int, instance_ids: list[str]) -> dict[str, Any]:
    """Reboot one batch of instances, then check their health."""
    instances = [{"instanceId": instance_id} for instance_id in instance_ids]
    return {
        "name": f"airflow-rolling-restart-batch-{batch_no}",
        "description": f"Rolling restart, batch {batch_no}: {', '.join(instance_ids)}",
        "linear": True,
        "operators": [
            {
                "name": "reboot",
                "operator": "BCE::BCC::RebootInstance",
                **STEP_LIMITS,
                "properties": {"instances": instances},
            },
            {
                "name": "health_check",
                "operator": "BCE::Agent::ExecuteShell",
                **STEP_LIMITS,
                "properties": {"content": HEALTH_CHECK, "instances": instances},
            },
        ],
    }


with DAG(
    dag_id="example_oos_mapped_batches",
    doc_md=__doc__,
    description="Rolling restart: one OOS execution per batch of instances",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["oos", "example", "mapping"],
    params={
        "instance_ids": Param(
            ["i-batch-1", "i-batch-2", "i-batch-3", "i-batch-4", "i-batch-5"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instances to restart.",
        ),
        "batch_size": Param(2, type="integer", minimum=1, description="Instances per batch."),
    },
) as dag:
    # [START howto_operator_oos_create_execution_mapped]
    @task
    def plan_batches(params: dict[str, Any]) -> list[dict[str, Any]]:
        """One template per batch of ``batch_size`` instances, in the order given."""
        ids: list[str] = params["instance_ids"]
        size: int = params["batch_size"]
        return [
            batch_template(n, ids[start : start + size])
            for n, start in enumerate(range(0, len(ids), size), 1)
        ]

    OosCreateExecutionOperator.partial(
        task_id="restart_batch",
        oos_conn_id="oos_default",
        poll_interval=POLL_SECONDS,
        timeout=60 * 60,
        max_active_tis_per_dagrun=1,
    ).expand(template=plan_batches())
    # [END howto_operator_oos_create_execution_mapped]
