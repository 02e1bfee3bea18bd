"""The ``baidu_oos`` connection's extras and form, described once.

The provider info (``get_provider_info``), the hook's form methods (read by Airflow < 3.2) and the
connection parser (the accepted extras) all derive from these. Plain data: no import at all.
"""

from __future__ import annotations

from typing import Any

CONN_TYPE = "baidu_oos"
# The published values of the `locale` query parameter that every OOS call takes.
LOCALES = ("zh-cn", "en-us")
# A best guess: the console's deep link is not published.
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
    "locale": {
        "label": "Answer Language (locale)",
        "description": "zh-cn or en-us: the language of OOS's messages and failure reasons, sent as "
        "the locale query parameter on every call. Empty: not sent (OOS answers in zh-cn).",
        # A text field, not a select: a select without a default would store a literal "null".
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
        "locale": "en-us (empty: zh-cn, the service's default)",
    },
}
