"""Provider metadata read by Airflow's providers manager (entry point in pyproject.toml).

Stays import-cheap (no Airflow, requests or aiohttp import): the providers manager loads it in
every Airflow process. The connection form is described once, in ``client.connection_form``.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_oos import __version__
from airflow_provider_oos.client.connection_form import CONN_FIELDS, CONN_TYPE, UI_FIELD_BEHAVIOUR

INTEGRATION = "Baidu AI Cloud OOS"
HOOK_CLASS = "airflow_provider_oos.hooks.oos.OosHook"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-oos",
        "name": INTEGRATION,
        "description": "Run and await Baidu AI Cloud OOS (Operation Orchestration Service) executions.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://cloud.baidu.com/doc/OOS/index.html",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_oos.hooks.oos"]}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_oos.operators.oos",
                    "airflow_provider_oos.operators.preflight",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_oos.sensors.oos"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_oos.triggers.oos"]}
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Baidu OOS",
                "connection-type": CONN_TYPE,
                "conn-fields": copy.deepcopy(CONN_FIELDS),
                "ui-field-behaviour": copy.deepcopy(UI_FIELD_BEHAVIOUR),
            }
        ],
        "extra-links": ["airflow_provider_oos.links.oos.OosExecutionLink"],
        "task-decorators": [
            {"class-name": "airflow_provider_oos.decorators.oos_shell.oos_shell_task", "name": "oos_shell"}
        ],
        # The OOS execution view in the task instance page (Airflow >= 3.1; absent on 3.0).
        "plugins": [
            {
                "name": "oos_execution_view",
                "plugin-class": "airflow_provider_oos.plugins.execution_view.OosExecutionViewPlugin",
            }
        ],
    }
