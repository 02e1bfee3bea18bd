"""example_oos_event_driven runs to success with `airflow dags test` against the emulator.

Run by hand (as `airflow dags test` does) it follows the execution named in its Param: it reads it
with OosHook and runs the post-check step naming it. Its asset watch (a real triggerer, a restart)
is tested in tests/reliability/test_event_watch_restart.py and in tests/e2e/test_event_driven.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from oos_emulator.process import start_emulator

from airflow_provider_oos.hooks.oos import OosHook
from airflow_provider_oos.triggers.oos import OosExecutionEventTrigger
from tests.support.dag_runner import DagTestProcess
from tests.support.oos_task_helpers import connection_json, shell, template, wait_for_state

pytestmark = pytest.mark.timeout(600)

DAG_ID = "example_oos_event_driven"
WATCHED = "airflow-example-nightly-maintenance"


def test_event_driven_example_follows_the_execution_and_post_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = start_emulator(instances=["i-event-1"])
    try:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(emulator))
        followed = OosHook().create_execution(template(WATCHED, shell("patch", "echo nightly")))
        wait_for_state(emulator, followed, {"SUCCESS"})
        run = DagTestProcess(
            DAG_ID, conn_json=emulator.conn_json, conf={"execution_id": followed}, workdir=tmp_path
        ).wait()
        assert run.succeeded, run.explain()
        assert f"OOS execution {followed} of {WATCHED}: SUCCESS" in run.output
        checks = [e for e in emulator.executions() if e["templateName"] == "airflow-example-post-check"]
        (post_check,) = checks
        assert post_check["state"] == "SUCCESS"
        detail = OosHook().get_execution(post_check["id"])
        (step,) = detail.template.operators if detail.template and detail.template.operators else []
        assert (step.properties or {})["content"] == f"echo post-check after {followed}"
        assert (step.properties or {})["instances"] == [{"instanceId": "i-event-1"}]
    finally:
        emulator.stop()


def test_the_asset_is_watched_by_the_event_trigger() -> None:
    from example_dags.example_oos_event_driven import finished_maintenance

    (watcher,) = finished_maintenance.watchers
    assert isinstance(watcher.trigger, OosExecutionEventTrigger)
    assert watcher.trigger.template_name == WATCHED
    assert watcher.trigger.trigger == "CRON"  # runs of OOS's own schedule only
