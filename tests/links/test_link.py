"""The "OOS Execution" extra link: attached to the operator and the sensor, and survives DAG serialization.

Its value in a real run (read from XCom ``console_url``) is checked in test_operator_resume.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_provider_oos.links.oos import CONSOLE_URL_XCOM_KEY, OosExecutionLink
from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor


def test_link_is_named_and_reads_the_console_url_xcom() -> None:
    assert OosExecutionLink().name == "OOS Execution"
    assert CONSOLE_URL_XCOM_KEY == "console_url"


def round_trip(dag: DAG) -> Any:
    """What the scheduler and API server hold: the DAG serialized to JSON and read back."""
    from airflow.serialization import serialized_objects as so

    if hasattr(so, "DagSerialization"):  # Airflow >= 3.3
        return so.DagSerialization.deserialize_dag(so.DagSerialization.serialize_dag(dag))
    return so.SerializedDAG.from_dict(so.SerializedDAG.to_dict(dag))


def test_operator_and_sensor_carry_the_link_through_serialization() -> None:
    with DAG("link_test", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        start = OosCreateExecutionOperator(
            task_id="start", template_name="nightly", wait_for_completion=False
        )
        OosExecutionSensor(task_id="wait", execution_id="{{ ti.xcom_pull('start', key='execution_id') }}")
    assert [type(link) for link in start.operator_extra_links] == [OosExecutionLink]

    restored = round_trip(dag)
    for task_id in ("start", "wait"):
        assert "OOS Execution" in restored.get_task(task_id).extra_links
