"""Where the live check goes (read from the environment) and what it does (`Options`), checked
before any call.

The variables stand for the fields of a `baidu_oos` connection and are parsed by the provider's
own `parse_connection`, so the live check talks to OOS exactly as a task would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from airflow_provider_oos.client.connection import OosConnectionConfig, parse_connection

ENV_ENDPOINT = "OOS_ENDPOINT"
ENV_ACCESS_KEY = "OOS_ACCESS_KEY"
ENV_SECRET_KEY = "OOS_SECRET_KEY"
ENV_SESSION_TOKEN = "OOS_SESSION_TOKEN"
ENV_REGION = "OOS_REGION"
OPENAPI_BASE_PATH = ""  # the OpenAPI path style; DEFAULT_BASE_PATH is the seed's

# The connection field each variable fills, to name the variable in parse_connection's messages.
_FIELD_OF = {
    "login": ENV_ACCESS_KEY,
    "password": ENV_SECRET_KEY,
    "host": ENV_ENDPOINT,
    "extra 'region'": ENV_REGION,
}


class LiveCheckSettingsError(ValueError):
    """A variable is missing or unusable; the message names it and the fix."""


def _value(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip()


def config_from_env(environ: Mapping[str, str]) -> OosConnectionConfig:
    """The connection settings from `environ`; raises LiveCheckSettingsError naming the variable."""
    access_key = _value(environ, ENV_ACCESS_KEY)
    secret_key = _value(environ, ENV_SECRET_KEY)
    endpoint = _value(environ, ENV_ENDPOINT)
    region = _value(environ, ENV_REGION)
    token = _value(environ, ENV_SESSION_TOKEN)
    if not endpoint and not region:
        raise LiveCheckSettingsError(
            f"{ENV_ENDPOINT} is not set: set it to the OOS endpoint (a host such as oos.bj.baidubce.com, "
            f"or a full URL such as https://oos.bj.baidubce.com), or set {ENV_REGION} (e.g. bj) to use "
            "oos.{region}.baidubce.com"
        )
    if not access_key:
        raise LiveCheckSettingsError(f"{ENV_ACCESS_KEY} is not set: set it to your Access Key ID (AK)")
    if not secret_key:
        raise LiveCheckSettingsError(f"{ENV_SECRET_KEY} is not set: set it to your Secret Access Key (SK)")
    extra: dict[str, str] = {}
    if region:
        extra["region"] = region
    if token:
        extra["session_token"] = token
    conn = SimpleNamespace(login=access_key, password=secret_key, host=endpoint, port=None, extra=extra)
    try:
        return parse_connection(conn)
    except ValueError as exc:
        message = str(exc)
        for field, variable in _FIELD_OF.items():
            if message.startswith(field):
                message = f"{variable} ({field} of the connection){message[len(field) :]}"
                break
        raise LiveCheckSettingsError(message) from None


@dataclass(frozen=True)
class Options:
    """What to check beyond the read-only calls.

    :param base_path: read in this path style only; None reads in every style that answers.
    :param execution_id: the execution to read; None reads the created or the newest listed one.
    :param create_from: the name of a template to run once (opt-in), or None.
    :param properties: the properties of that run.
    :param timeout: seconds to wait for that run.
    :param poll_interval: seconds between reads while waiting.
    """

    base_path: str | None = None
    execution_id: str | None = None
    create_from: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    timeout: float = 1800.0
    poll_interval: float = 10.0
