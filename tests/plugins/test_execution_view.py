"""The OOS execution view over a real DAG run on the emulator, behind Airflow's own auth."""

from __future__ import annotations

from typing import Any

from oos_emulator.process import DEFAULT_SECRET_KEY

from tests.plugins.conftest import View
from tests.plugins.dags.oos_view_dag import MARKUP

GET_EXECUTION = ("GET /api/logic/oos/v2/execution", "GET /v2/execution")


def execution_reads(view: View) -> int:
    counts = view.run.emulator.admin("GET", "stats")["requests"]
    return sum(counts.get(key, 0) for key in GET_EXECUTION)


def page(view: View, task_id: str, **kwargs: Any) -> str:
    response = view.get(task_id, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    body: str = response.text
    assert DEFAULT_SECRET_KEY not in body and "dead-sk" not in body
    return body


def test_succeeded_execution_shows_state_steps_and_escaped_outputs(view: View) -> None:
    execution_id = view.run.executions["succeed"]
    before = execution_reads(view)
    body = page(view, "succeed")
    assert execution_reads(view) == before + 1  # one read (with withLog), nothing else
    assert f"OOS execution {execution_id}" in body
    assert 'class="state SUCCESS">SUCCESS<' in body
    assert "<td>build</td><td>BCE::Agent::ExecuteShell</td>" in body
    assert " s</td>" in body  # the step's duration
    assert "version" in body and "42" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;b&gt;bold&lt;/b&gt;" in body
    assert MARKUP not in body and "<script" not in body
    assert "Content-Security-Policy" in view.get("succeed").headers


def test_failed_execution_shows_failing_step_iteration_and_log_tail(view: View) -> None:
    execution_id = view.run.executions["fail"]
    truth = view.run.emulator.admin("GET", "executions")
    assert any(item["id"] == execution_id and item["state"] == "FAILED" for item in truth["executions"])
    body = page(view, "fail")
    assert 'class="state FAILED">FAILED<' in body
    assert '<tr class="failing"><td>stop</td><td>BCE::BCC::StopInstance</td>' in body
    assert "Instance.NotFound" in body
    assert "<h2>Failing iteration</h2>" in body
    assert "loopIndex 1" in body and "i-view-missing" in body
    assert "last log lines" in body and "<pre>" in body


def test_sensor_shows_the_execution_it_waited_on(view: View) -> None:
    body = page(view, "watch")
    assert f"OOS execution {view.run.executions['succeed']}" in body


def test_task_that_is_not_an_oos_task_reads_nothing(view: View) -> None:
    before = execution_reads(view)
    body = page(view, "plain")
    assert "not an OOS task" in body
    assert execution_reads(view) == before


def test_the_request_chooses_neither_the_execution_nor_the_connection(view: View) -> None:
    foreign = view.run.executions["fail"]
    url = view.url("succeed") + f"?execution_id={foreign}&oos_conn_id=oos_default&conn_id=oos_default"
    response = view.client.get(url, headers={"Authorization": f"Bearer {view.tokens['admin']}"})
    assert response.status_code == 200  # oos_default points nowhere: the task's own connection was used
    assert f"OOS execution {view.run.executions['succeed']}" in response.text
    assert foreign not in response.text


def test_unknown_task_instance_is_not_found(view: View) -> None:
    before = execution_reads(view)
    assert view.get("succeed", run_id="manual__not_a_run").status_code == 404
    assert view.get("no_such_task").status_code == 404
    assert execution_reads(view) == before


def test_map_index_placeholder_of_an_unmapped_task_and_bad_values(view: View) -> None:
    assert "OOS execution" in page(view, "succeed", map_index="{MAP_INDEX}")
    assert view.get("succeed", map_index="abc").status_code == 400
    assert view.get("succeed", map_index="-5").status_code == 400
    assert view.get("succeed", map_index="3").status_code == 404  # no such mapped instance


def test_no_login_is_refused(view: View) -> None:
    before = execution_reads(view)
    response = view.get("succeed", user=None)
    assert response.status_code == 401
    assert view.run.executions["succeed"] not in response.text
    bad = view.client.get(view.url("succeed"), headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code in (401, 403)
    assert execution_reads(view) == before


def test_the_ui_cookie_is_accepted(view: View) -> None:
    response = view.client.get(view.url("succeed"), cookies={"_token": view.tokens["viewer"]})
    assert response.status_code == 200
    view.client.cookies.clear()


def test_user_without_access_to_the_dag_gets_403(view: View) -> None:
    before = execution_reads(view)
    response = view.get("succeed", user="elsewhere")
    assert response.status_code == 403
    assert view.run.executions["succeed"] not in response.text
    assert execution_reads(view) == before
    assert view.get("succeed", user="viewer").status_code == 200
