"""A task log at INFO over a long wait: the progress lines, and no line per healthy poll.

The operator and the sensor each wait 20 polls or more on the real emulator; what their task
would log is everything Airflow's logger prints (stdout: hooks, operators and sensors log through
structlog) plus every stdlib record at INFO (``caplog``: the retry warnings). The same wait then
runs in ``airflow dags test``, a real Airflow process, from a small DAG of this test.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.hooks.oos import OosHook
from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor
from tests.support.dag_runner import REPO, dag_test_env
from tests.support.oos_task_helpers import shell, task_context, template

pytestmark = pytest.mark.timeout(300)

POLL = 0.05
MIN_POLLS = 20
# 2 s at the tests' emulator time scale (0.02): 40 polls of 0.05 s, at least 20 on a loaded box.
LONG_STEP = "# emulator: sleep 100"
# In airflow dags test a task process takes seconds to start: the sensor must still find the step running.
DAG_STEP = "# emulator: sleep 600"
# The per-call line of transport.log_call, as an answered call writes it.
PER_CALL_LINE = re.compile(r"OOS (GET|POST) \S+ -> \d{3} \(request id ")
READS = "GET /api/logic/oos/v2/execution"


def long_template(name: str) -> dict[str, object]:
    return template(name, shell("prepare"), shell("work", LONG_STEP), shell("finish"))


def reads(emulator: EmulatorHandle) -> int:
    return int(emulator.admin("GET", "stats")["requests"].get(READS, 0))


def task_log(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """What the task logged: Airflow's structlog output and every stdlib record at INFO or above."""
    return capsys.readouterr().out + "\n" + caplog.text


def assert_progress_without_polls(log: str, execution_id: str, polls: int) -> None:
    assert polls >= MIN_POLLS, f"the wait made only {polls} reads; the test needs {MIN_POLLS}"
    assert not PER_CALL_LINE.search(log), f"a per-call line at INFO:\n{log}"
    # The progress lines: each state once, each count of finished steps once, the running step.
    assert log.count(f"OOS execution {execution_id} is RUNNING.") == 1, log
    assert log.count(f"OOS execution {execution_id} is SUCCESS.") == 1, log
    assert log.count(f"OOS execution {execution_id}: running step 'work' (BCE::Agent::ExecuteShell).") == 1
    assert log.count(f"OOS execution {execution_id}: 3/3 tasks done.") == 1, log
    # Not one line per poll: a few dozen lines at most over 20+ polls.
    lines = [line for line in log.splitlines() if execution_id in line]
    assert len(lines) < polls, f"{len(lines)} lines naming the execution over {polls} polls:\n{log}"


@pytest.fixture
def info_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def test_operator_log_over_a_long_wait_has_progress_and_no_poll_lines(
    emulator: EmulatorHandle, info_log: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = OosCreateExecutionOperator(
        task_id="oos_task", template=long_template("long-operator-wait"), poll_interval=POLL
    )
    summary = operator.execute(task_context())
    log = task_log(info_log, capsys)
    assert summary["state"] == "SUCCESS"
    assert_progress_without_polls(log, summary["execution_id"], reads(emulator))
    assert f"Created OOS execution {summary['execution_id']}." in log


def test_sensor_log_over_a_long_wait_has_progress_and_no_poll_lines(
    emulator: EmulatorHandle, info_log: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = OosHook().create_execution(long_template("long-sensor-wait"))
    before = reads(emulator)
    sensor = OosExecutionSensor(
        task_id="wait", execution_id=execution_id, poke_interval=POLL, timeout=60, mode="poke"
    )
    summary = sensor.execute(task_context())
    log = task_log(info_log, capsys)
    assert summary["state"] == "SUCCESS"
    assert_progress_without_polls(log, execution_id, reads(emulator) - before)


def test_api_errors_still_name_method_path_status_code_and_request_id(
    emulator: EmulatorHandle, info_log: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed call is a WARNING line and an error that say what failed, where, and its request id."""
    from airflow_provider_oos.exceptions import OosNotFoundError

    with pytest.raises(OosNotFoundError) as missing:
        OosHook().get_execution("d-doesnotexist")
    message = str(missing.value)
    assert "GET /api/logic/oos/v2/execution: " in message
    assert "HTTP 404" in message and "code " in message
    assert re.search(r"request id [0-9a-f-]{8,}", message), message
    log = task_log(info_log, capsys)
    warning = next(line for line in log.splitlines() if "d-doesnotexist" in line and "-> 404" in line)
    assert "warning" in warning.lower() and re.search(r"request id [0-9a-f-]{8,}", warning), warning


DAG_FILE = """
from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.sensors.oos import OosExecutionSensor

LONG = {{"name": "{name}", "operators": [
    {{"name": "prepare", "operator": "BCE::Agent::ExecuteShell", "properties": {{"content": "echo start"}}}},
    {{"name": "work", "operator": "BCE::Agent::ExecuteShell", "properties": {{"content": "{step}"}}}},
    {{"name": "finish", "operator": "BCE::Agent::ExecuteShell", "properties": {{"content": "echo start"}}}},
]}}

with DAG(dag_id="oos_task_logs", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    run = OosCreateExecutionOperator(
        task_id="run_and_wait", template=LONG, poll_interval={poll}, timeout=120
    )
    start = OosCreateExecutionOperator(task_id="start", template=LONG, wait_for_completion=False)
    sense = OosExecutionSensor(
        task_id="sense",
        execution_id="{{{{ ti.xcom_pull(task_ids='start', key='execution_id') }}}}",
        poke_interval={poll},
        timeout=120,
        mode="poke",
    )
    # The sensor pokes right after the start (before the worker wait), while the execution runs.
    start >> sense >> run
"""


def test_dags_test_log_over_a_long_wait_has_progress_and_no_poll_lines(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "oos_task_logs.py").write_text(
        textwrap.dedent(DAG_FILE.format(name="long-dag-wait", step=DAG_STEP, poll=POLL))
    )
    env = dag_test_env(emulator.conn_json, POLL, tmp_path)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "oos_task_logs"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    executions = emulator.executions()
    assert len(executions) == 2 and all(item["state"] == "SUCCESS" for item in executions), executions
    polls = reads(emulator)
    assert not PER_CALL_LINE.search(output), output[-4000:]
    for execution_id in (item["id"] for item in executions):
        assert output.count(f"OOS execution {execution_id} is SUCCESS.") == 1, output[-4000:]
        assert output.count(f"OOS execution {execution_id}: 3/3 tasks done.") == 1, output[-4000:]
        assert output.count(f"OOS execution {execution_id}: running step 'work'") == 1, output[-4000:]
    assert polls >= 2 * MIN_POLLS, f"the two waits made only {polls} reads"
