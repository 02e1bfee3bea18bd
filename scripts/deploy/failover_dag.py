"""`oos_failover` (written into the deployment by `make failover`; not an example to copy).

N deferrable waits, one mapped task instance per OOS execution. Each execution is one shell step
that runs for SLEEP emulator-seconds; every FAIL_EVERY-th one exits 1, so its true final state
is FAILED and its task must fail. The template name `failover-NNN` ties each execution to its
task, so the emulator can count executions per task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

N = 200  # rewritten by scripts/deploy/failover.py
SLEEP = 1200  # emulator seconds (times the emulator's time scale)
FAIL_EVERY = 10


def template(number: int) -> dict[str, object]:
    exit_line = "# emulator: exit 1\n" if number % FAIL_EVERY == 0 else ""
    return {
        "name": f"failover-{number:03d}",
        "linear": True,
        "operators": [
            {
                "name": "wait",
                "operator": "BCE::Agent::ExecuteShell",
                "retries": 0,
                "retryInterval": 1000,
                "timeout": 3_600_000,
                "properties": {
                    "content": f"#!/bin/bash\n# emulator: sleep {SLEEP}\n{exit_line}",
                    "instances": [{"instanceId": "i-failover"}],
                },
            }
        ],
    }


with DAG(
    dag_id="oos_failover",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=N + 10,
    tags=["oos", "failover"],
):
    OosCreateExecutionOperator.partial(
        task_id="wait",
        oos_conn_id="oos_default",
        deferrable=True,
        poll_interval=10,
        timeout=3600,
        retries=0,
    ).expand(template=[template(number) for number in range(1, N + 1)])
