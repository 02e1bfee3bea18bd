"""A real Airflow run (dag.test) of an operator whose first try dies mid-wait, as in a worker crash.

Airflow >= 3.3: the retry reads the execution id from the task_state_store and reconnects to the
same execution (one create call). Airflow 3.1: no task_state_store, so the retry finds the execution
by its Airflow tags (reattach, issue 10) and also reconnects to it: one create call on every version.
Also checks the XComs and the "OOS Execution" extra link the run leaves behind.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from tests.support.oos_task_helpers import FAST_RETRY_EXTRAS, connection_json

DAG_ID = "oos_test_worker_crash"

DAG_FILE = textwrap.dedent(
    f'''
    from datetime import datetime, timedelta

    from airflow.sdk import DAG

    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator


    class CrashOnFirstTry(OosCreateExecutionOperator):
        """Dies right after the execution was created, like a worker killed mid-wait."""

        def poll_until_complete(self, external_id, context):
            if context["ti"].try_number == 1:
                raise RuntimeError("simulated worker crash")
            return super().poll_until_complete(external_id, context)


    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        CrashOnFirstTry(
            task_id="maintenance",
            retries=1,
            retry_delay=timedelta(seconds=0),
            poll_interval=0.05,
            template={{
                "name": "crash-test",
                "operators": [
                    {{
                        "name": "work",
                        "operator": "BCE::Agent::ExecuteShell",
                        "properties": {{"content": "# emulator: sleep 25\\n# emulator: output DONE=1"}},
                    }}
                ],
            }},
        )
    '''
)


def load_dag(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("oos_test_worker_crash_dag", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def xcoms(run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == DAG_ID, XComModel.run_id == run_id).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def test_retry_after_worker_crash(
    oos_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow import settings

    monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(oos_emulator, **FAST_RETRY_EXTRAS))
    dag_file = tmp_path / "oos_test_worker_crash_dag.py"
    dag_file.write_text(DAG_FILE)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))  # dag.test() serializes from this bundle

    run = load_dag(dag_file).test()

    assert run.state == "success"
    executions = oos_emulator.executions()
    values = xcoms(run.run_id)
    summary = values["return_value"]
    assert summary["state"] == "SUCCESS" and summary["tasks"]["work"]["outputs"]["DONE"] == "1"
    assert values["execution_id"] == summary["execution_id"]
    assert values["console_url"] == summary["console_url"]
    assert values["_link_OosExecutionLink"] == summary["console_url"]  # the "OOS Execution" button
    # Reconnected on every version (task_state_store on 3.3, the Airflow tags below): one
    # execution, and it is the one the crashed try created.
    assert oos_emulator.create_calls() == 1
    assert [e["id"] for e in executions] == [summary["execution_id"]]
