"""Weekly maintenance window, run safely: preflight the evening before, a guarded start, a page on pause.

What it shows
    The run starts Saturday 20:00 (Beijing time), the evening before the window:

        preflight (OosPreflightOperator)
          -> wait_for_window (deferrable TimeDeltaSensor: Sunday 02:00)
          -> maintenance (OosCreateExecutionOperator, guarded)

    ``preflight`` checks the template (local rules and the service's check call), that every
    required template property is given and that each value has its declared type. It changes
    nothing; a problem fails it hours before the window, naming the property and the fix.

    ``maintenance`` starts the OOS execution only inside the window: no later than 03:00, and only
    if the expected 90 minutes still fit before the window closes at 06:00. A run that is late (a
    scheduler backlog, a long queue) is skipped and creates nothing, with a log line saying which
    window was missed and by how much. If the execution still runs at 06:00, the task warns loudly
    with the console link and pages (OOS has no cancel call; a person decides). When the execution
    pauses (a person pauses it, or the maintenance step fails: it has ``pauseOnFailure``), the
    on-call is paged once per pause, with the console link. A retry reattaches to the execution of
    the earlier try instead of starting a second one.

What to edit
    - ``oos_default``: the Airflow connection (type ``baidu_oos``).
    - Params ``instance_ids`` and ``maintenance_script``; the template in
      ``templates/example_oos_weekly_window.json``; the schedule and the window times below.
    - ``PageOnCall``: stands in for a real notifier, e.g. ``SlackNotifier`` from the Slack provider
      (any ``BaseNotifier`` or plain callable works).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG, BaseNotifier, Param, task

from airflow_provider_oos.operators.oos import OosCreateExecutionOperator
from airflow_provider_oos.operators.preflight import OosPreflightOperator

POLL_SECONDS = float(os.environ.get("OOS_EXAMPLE_POLL_SECONDS", "15"))
# The window opens 6 h after the run starts (Saturday 20:00 -> Sunday 02:00). Tests shorten the
# wait through the environment; the window's limits below count from the same moment.
WINDOW_OPENS = timedelta(seconds=float(os.environ.get("OOS_EXAMPLE_WINDOW_OPENS_SECONDS", 6 * 3600)))
TEMPLATE = "templates/example_oos_weekly_window.json"


# [START howto_oos_notifier]
class PageOnCall(BaseNotifier):
    """Pages the on-call person (here: a warning in the task log; swap in a real notifier)."""

    template_fields = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def notify(self, context: Any) -> None:
        self.log.warning("PAGE on-call: %s", self.message)


# [END howto_oos_notifier]


with DAG(
    dag_id="example_oos_weekly_window",
    doc_md=__doc__,
    description="Weekly maintenance window: preflight the evening before, guarded start, page on pause",
    schedule="0 20 * * 6",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["oos", "example", "maintenance", "window"],
    params={
        "instance_ids": Param(
            ["i-weekly-1", "i-weekly-2"],
            type="array",
            items={"type": "string", "pattern": "^i-"},
            minItems=1,
            description="BCC instance ids to stop, maintain and start again.",
        ),
        "maintenance_script": Param(
            "#!/bin/bash\nset -euo pipefail\necho 'weekly window: patch and clean up'\n",
            type="string",
            format="multiline",
            description="Shell script of the maintenance step (BCE::Agent::ExecuteShell).",
        ),
    },
) as dag:

    @task
    def fleet(params: dict[str, Any]) -> list[dict[str, str]]:
        """BCC instances as the template's bccInstance property takes them."""
        return [{"instanceId": instance_id} for instance_id in params["instance_ids"]]

    properties = {"instances": fleet(), "maintenance_script": "{{ params.maintenance_script }}"}

    # [START howto_operator_oos_preflight]
    preflight = OosPreflightOperator(
        task_id="preflight",
        oos_conn_id="oos_default",
        template=TEMPLATE,
        properties=properties,
    )
    # [END howto_operator_oos_preflight]

    wait_for_window = TimeDeltaSensor(task_id="wait_for_window", delta=WINDOW_OPENS, deferrable=True)

    # [START howto_operator_oos_window_guard]
    maintenance = OosCreateExecutionOperator(
        task_id="maintenance",
        oos_conn_id="oos_default",
        template=TEMPLATE,
        properties=properties,
        tags={"purpose": "weekly-window"},
        # The window, counted from the run's data interval end (Saturday 20:00).
        latest_start=WINDOW_OPENS + timedelta(hours=1),
        window_end=WINDOW_OPENS + timedelta(hours=4),
        expected_duration=timedelta(minutes=90),
        on_window_missed="skip",
        on_pause_callback=PageOnCall("OOS maintenance paused: {{ oos_message }}"),
        on_window_closed_callback=PageOnCall(
            "Maintenance still running after the window: {{ oos_console_url }}"
        ),
        deferrable=True,
        poll_interval=POLL_SECONDS,
        retries=1,
    )
    # [END howto_operator_oos_window_guard]

    preflight >> wait_for_window >> maintenance
