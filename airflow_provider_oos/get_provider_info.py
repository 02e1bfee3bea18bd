"""Provider metadata read by Airflow's providers manager (entry point in pyproject.toml).

Stays import-cheap (no Airflow, requests or aiohttp import): the providers manager loads it in
every Airflow process. The connection form is described here once; the hook's
`get_connection_form_widgets` / `get_ui_field_behaviour` (read by Airflow < 3.2) derive from it.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_oos import __version__

INTEGRATION = "Baidu AI Cloud OOS"
CONNECTION_TYPE = "baidu_oos"
HOOK_CLASS = "airflow_provider_oos.hooks.oos.OosHook"
DEFAULT_CONSOLE_URL = (
    "https://console.bce.baidu.com/oos/#/oos/execution/detail?id={execution_id}&region={region}"
)

# Extra fields of a baidu_oos connection (the keys of its `extra` JSON), in form order.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "region": {
        "label": "Region",
        "description": "OOS region (bj when empty); with an empty Endpoint the host is "
        "oos.{region}.baidubce.com.",
        # No form default: Airflow masks every string extra and warns on each one under 5
        # characters ("Skipping masking for a secret as it's too short"); bj is the code's default.
        "schema": {"type": ["string", "null"]},
    },
    "scheme": {
        "label": "Scheme",
        "description": "https (default) or http; used only when the Endpoint is a bare host name "
        "(a full URL such as http://127.0.0.1:8765 keeps its own scheme).",
        # No None in the enum: the UI would offer it as a literal "null" choice.
        "schema": {"type": ["string", "null"], "enum": ["https", "http"], "default": "https"},
    },
    "base_path": {
        "label": "API Base Path",
        "description": 'Path before every OOS call: /api/logic/oos (default, the older SDKs\' style) or "" '
        "(empty, the OpenAPI style: /v2/...). Test Connection names the one your endpoint answers.",
        "schema": {"type": ["string", "null"], "default": "/api/logic/oos"},
    },
    "session_token": {
        "label": "STS Session Token",
        "description": "Only for temporary (STS) credentials; sent as x-bce-security-token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "console_url": {
        "label": "Console URL Template",
        "description": "Link shown for an execution; placeholders {execution_id} and {region}.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Request Timeout (s)",
        "description": "Seconds to connect, to wait for each read, and to receive a whole answer.",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "max_retries": {
        "label": "Max Retries",
        "description": "Retries of a failed call that is safe to resend.",
        "schema": {"type": ["integer", "null"], "default": 5},
    },
    "retry_wait_min": {
        "label": "Retry Wait Min (s)",
        "description": "First backoff wait; doubles on each retry.",
        "schema": {"type": ["number", "null"], "default": 1},
    },
    "retry_wait_max": {
        "label": "Retry Wait Max (s)",
        "description": "Upper bound of one backoff wait.",
        "schema": {"type": ["number", "null"], "default": 30},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    # The port stays visible: Airflow 3.3's Test button posts a stored connection's port as a
    # number, 0 when none is set, and the API then refuses the test; with a port set it works.
    "hidden-fields": ["schema"],
    "relabeling": {"login": "Access Key ID", "password": "Secret Access Key", "host": "Endpoint"},
    "placeholders": {
        "host": "oos.bj.baidubce.com or http://127.0.0.1:8765 (empty: oos.{region}.baidubce.com)",
        "login": "AK",
        "password": "SK",
        "port": "443 (8765 for the local emulator); needed by the Test button",
        "region": "bj",
        "console_url": DEFAULT_CONSOLE_URL,
    },
}


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
                "connection-type": CONNECTION_TYPE,
                "conn-fields": copy.deepcopy(CONN_FIELDS),
                "ui-field-behaviour": copy.deepcopy(UI_FIELD_BEHAVIOUR),
            }
        ],
        "extra-links": ["airflow_provider_oos.links.oos.OosExecutionLink"],
    }
