"""`OosHook.test_connection`: one read-only call, and a message that says what to fix.

The probe lists one action type in the connection's path style (`/v1/operator/list` below the
seed's base path, `/v2/operator/list` in the OpenAPI style). When that answers 404, the other
style is probed too: if it answers, the message names the `base_path` setting to use.
"""

from __future__ import annotations

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client.connection import DEFAULT_BASE_PATH
from airflow_provider_oos.client.models import OperatorPage
from airflow_provider_oos.exceptions import OosApiError, OosAuthError, OosConnectionError


def _probe(hook: ops.CallRunner, base_path: str) -> OperatorPage:
    # Each style's own published operator list: v1 below a base path, v2 in the OpenAPI style.
    call = ops.list_operators(1, 1, api_version="v1" if base_path else "v2")
    return hook.run(call, attempts=1, base_path=base_path)


def _style(base_path: str) -> str:
    return f"base_path {base_path!r}" if base_path else 'base_path "" (the OpenAPI style)'


def describe_probe(hook: ops.CallRunner) -> tuple[bool, str]:
    """Probe the connection of ``hook`` with one read-only call; never raises.

    :param hook: the hook to test.
    :return: ``(ok, message)``: on success the endpoint, path style, access key id and how many action
        types are visible; on failure what is wrong and what to fix (credentials, clock, TLS, ``base_path``).
    """
    try:
        config = hook.config
        page = _probe(hook, config.base_path)
    except ValueError as exc:
        return False, f"The connection is misconfigured: {exc}"
    except OosAuthError as exc:
        return False, (
            "OOS rejected the credentials: check the Access Key ID, the Secret Access Key "
            f"(and the STS token, if any) and the clock of this machine. {exc}"
        )
    except OosConnectionError as exc:
        if exc.tls:
            return False, (
                f"TLS problem talking to {hook.config.endpoint}: {exc}. Check the certificate, "
                "or the scheme (https/http) the endpoint expects."
            )
        return False, f"Cannot reach the OOS endpoint {hook.config.endpoint}: {exc}"
    except OosApiError as exc:
        if exc.status == 404:
            return False, _other_style(hook, exc)
        return False, f"The OOS endpoint {hook.config.endpoint} answered with an error: {exc}"
    visible = page.total_count if page.total_count is not None else len(page.operators)
    return True, (
        f"Connected to {config.endpoint} ({_style(config.base_path)}) as "
        f"{config.credentials.access_key_id}; {visible} action types visible"
    )


def _other_style(hook: ops.CallRunner, not_found: OosApiError) -> str:
    config = hook.config
    other = "" if config.base_path else DEFAULT_BASE_PATH
    try:
        _probe(hook, other)
    except OosApiError:
        return (
            f"The OOS endpoint {config.endpoint} answered 404 with {_style(config.base_path)}, "
            f"and the other path style ({_style(other)}) does not answer either: {not_found}"
        )
    setting = f'"base_path": "{other}"'
    return (
        f"The OOS endpoint {config.endpoint} does not answer with {_style(config.base_path)} (404), "
        f"but answers in the other path style: set the connection extra {setting}."
    )
