"""``@task.oos_shell``: a Python function returns a shell script; OOS runs it on BCC instances.

What it shows
    1. ``check_disk`` is decorated with ``@task.oos_shell``: the function runs in the worker with
       the run's ``params`` and returns the script. The task runs it as one OOS execution of a
       single ``BCE::Agent::ExecuteShell`` step on ``instance_ids`` (as ``user`` ``root``, in
       ``/tmp``, for at most 10 minutes), with every safety of ``OosCreateExecutionOperator``:
       a retry reattaches to the execution its earlier try started, a lost create answer is
       found again instead of resent, a failure names the step, its reason and its log tail.
    2. Its XCom return value is the step's outputs (its OOS ``outputContext``), so
       ``report_disk`` (a plain ``@task``) reads ``outputs["DISK_PERCENT"]`` directly.

    The ``# emulator: output KEY=VALUE`` line in the script is a plain shell comment on a real
    host; the local OOS emulator reads it to simulate the step's outputs.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - Params ``instance_ids`` and ``max_percent``; the script in ``check_disk``; ``POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))

with DAG(
    dag_id="example_oos_shell",
    doc_md=__doc__,
    description="A shell script returned by a Python function, run on hosts by OOS",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["oos", "example", "shell"],
    params={
        "instance_ids": Param(
            ["i-shell-1", "i-shell-2"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instances to check.",
        ),
        "max_percent": Param(90, type="integer", minimum=1, maximum=100, description="Fail above this."),
    },
) as dag:
    # [START howto_decorator_oos_shell]
    @task.oos_shell(
        oos_conn_id="oos_default",
        instances="{{ params.instance_ids }}",
        shell_user="root",
        work_dir="/tmp",
        step_timeout=600,
        poll_interval=POLL_SECONDS,
        timeout=30 * 60,
    )
    def check_disk(params: dict[str, Any]) -> str:
        """The script to run on each instance; sent as is (shell syntax is not Jinja)."""
        return f"""#!/bin/bash
set -euo pipefail
usage=$(df --output=pcent / | tail -1 | tr -dc '0-9')
echo "DISK_PERCENT=${{usage}}"
[ "${{usage}}" -le {int(params["max_percent"])} ]
# emulator: output DISK_PERCENT=42
"""

    @task
    def report_disk(outputs: dict[str, Any]) -> str:
        """Read the shell step's outputs; a missing one fails the run."""
        message = f"root disk at {outputs['DISK_PERCENT']}% on every checked instance"
        print(message)
        return message

    report_disk(check_disk())
    # [END howto_decorator_oos_shell]
