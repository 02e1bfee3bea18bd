"""`oos_worker_failover` (written into the deployment by `make worker-failover`; not an example to copy).

N non-deferrable waits, one mapped task instance per OOS execution: each task polls its execution
on the Celery worker that runs it, so a SIGKILLed worker takes the wait with it. Each execution is
one shell step of SLEEP emulator-seconds that succeeds. (None fails on purpose: a retry after a
FAILED execution starts a new one by design, which would blur the count; the FAILED path across a
takeover is what `make failover` checks.) Two retries, 5 s apart: the retry after the kill must
reattach to the execution of the killed try, never start another. The template name
`wfailover-NNN` ties each execution to its task, so the emulator can count executions per task.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

N = 16  # rewritten by scripts/deploy/worker_failover.py
SLEEP = 600  # emulator seconds (times the emulator's time scale)


def template(number: int) -> dict[str, object]:
    return {
        "name": f"wfailover-{number:03d}",
        "linear": True,
        "operators": [
            {
                "name": "wait",
                "operator": "BCE::Agent::ExecuteShell",
                "retries": 0,
                "retryInterval": 1000,
                "timeout": 3_600_000,
                "properties": {
                    "content": f"#!/bin/bash\n# emulator: sleep {SLEEP}\n",
                    "instances": [{"instanceId": "i-worker-failover"}],
                },
            }
        ],
    }


with DAG(
    dag_id="oos_worker_failover",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=N + 10,
    tags=["oos", "failover"],
):
    OosCreateExecutionOperator.partial(
        task_id="wait",
        oos_conn_id="oos_default",
        deferrable=False,
        poll_interval=5,
        timeout=3600,
        retries=2,
        retry_delay=timedelta(seconds=5),
    ).expand(template=[template(number) for number in range(1, N + 1)])
