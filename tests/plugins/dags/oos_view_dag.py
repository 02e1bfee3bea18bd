"""The DAG whose task instances the execution-view tests open: a succeeding execution, a failing
loop step, a sensor on the first execution, and a task that is no OOS task."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor

DAG_ID = "oos_execution_view_test"
CONN_ID = "oos_view_test"  # not oos_default: the view must use the task's own connection
STEP = {"retries": 0, "retryInterval": 1000, "timeout": 60000}
# Markup in a value the service sends back: the page must show it as text.
MARKUP = "<script>alert(1)</script>&<b>bold</b>"


def shell(name: str, *lines: str) -> dict[str, Any]:
    content = "\n".join(["echo start", *lines])
    return {"name": name, "operator": "BCE::Agent::ExecuteShell", "properties": {"content": content}, **STEP}


SUCCEEDING = {
    "name": "view_ok",
    "linear": True,
    "operators": [shell("build", f"# emulator: output label={MARKUP}", "# emulator: output version=42")],
}
FAILING = {
    "name": "view_fail",
    "linear": True,
    "operators": [
        shell("prepare"),
        {
            "name": "stop",
            "operator": "BCE::BCC::StopInstance",
            "loops": [{"instanceId": "i-view-1"}, {"instanceId": "i-view-missing"}],
            "properties": {},
            **STEP,
        },
    ],
}


with DAG(DAG_ID, schedule=None, catchup=False) as dag:
    ok = OosCreateExecutionOperator(
        task_id="succeed", oos_conn_id=CONN_ID, template=SUCCEEDING, poll_interval=0.2
    )
    OosCreateExecutionOperator(
        task_id="fail", oos_conn_id=CONN_ID, template=FAILING, poll_interval=0.2, retries=0
    )
    watch = OosExecutionSensor(
        task_id="watch",
        oos_conn_id=CONN_ID,
        execution_id="{{ ti.xcom_pull(task_ids='succeed', key='execution_id') }}",
        poke_interval=0.2,
    )

    @task
    def plain() -> str:
        return "not an OOS task"

    ok >> [watch, plain()]
