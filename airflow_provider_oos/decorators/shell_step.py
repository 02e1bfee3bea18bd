"""The one-step ``BCE::Agent::ExecuteShell`` template that ``@task.oos_shell`` runs, checked before
any API call.

Pure: no Airflow, no HTTP. Each bad value raises ValueError or TypeError naming the field and the
fix. The step's input properties: ``content`` (the script) and ``instances``
(``[{"instanceId": ...}]``), as every ExecuteShell step in this project and the emulator use them,
plus ``user`` and ``workDir`` as the official Python SDK's OOS sample sends them (oos-api.md names
no action inputs). The step's ``timeout`` is the published operator field, in milliseconds.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_oos.client.template_rules import DEFAULT_STEP_RETRY_INTERVAL_MS, DEFAULT_STEP_TIMEOUT_MS

SHELL_ACTION = "BCE::Agent::ExecuteShell"
DEFAULT_STEP_NAME = "shell"
# BCC instance ids: `i-` and letters, digits, `-` or `_` (e.g. i-VZIunExx, i-maint-1).
_INSTANCE_ID_RE = re.compile(r"^i-[A-Za-z0-9][A-Za-z0-9_-]*$")
_STEP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MS_PER_SECOND = 1000


def check_script(value: object) -> str:
    """The script the decorated function returned: a non-empty string."""
    if not isinstance(value, str):
        raise TypeError(
            f"script: the @task.oos_shell function must return the shell script as a string, "
            f"got {type(value).__name__}."
        )
    if not value.strip():
        raise ValueError(
            "script: the @task.oos_shell function returned an empty script; return the commands to run."
        )
    return value


def instance_refs(value: object, field: str = "instances") -> list[dict[str, str]]:
    """``[{"instanceId": ...}]`` from ids, ``[{"instanceId": ...}]``, or either as text (a rendered
    template: JSON, or a Python list literal as Jinja renders a list)."""
    if isinstance(value, str):
        value = _parse_list_text(value, field)
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise TypeError(
            f'{field} must be a list of instance ids or of {{"instanceId": ...}} objects, '
            f"got {type(value).__name__}."
        )
    if not value:
        raise ValueError(f'{field} is empty: name at least one BCC instance, e.g. ["i-abc123"].')
    refs: list[dict[str, str]] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(item, Mapping):
            if set(item) != {"instanceId"}:
                keys = sorted(map(str, item))
                raise ValueError(f'{where} must be {{"instanceId": "i-..."}}, got keys {keys}.')
            item = item["instanceId"]
        if not isinstance(item, str) or not _INSTANCE_ID_RE.match(item.strip()):
            raise ValueError(f"{where} {item!r} is not a BCC instance id such as 'i-abc123'.")
        refs.append({"instanceId": item.strip()})
    duplicates = sorted({r["instanceId"] for r in refs if refs.count(r) > 1})
    if duplicates:
        raise ValueError(f"{field} names {', '.join(duplicates)} more than once; list each instance once.")
    return refs


def _parse_list_text(text: str, field: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith("["):
        return [stripped]  # one id
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped)  # literals only: never runs code
    except (ValueError, SyntaxError):
        raise ValueError(f"{field} {text!r} is not a list: give a list of instance ids.") from None


def step_timeout_ms(value: object) -> int:
    """The step's published ``timeout`` in ms, from seconds or a ``timedelta``; None: the default."""
    if value is None:
        return DEFAULT_STEP_TIMEOUT_MS
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(
            f"step_timeout must be a number of seconds or a timedelta greater than 0, got {value!r}."
        )
    return int(seconds * _MS_PER_SECOND)


def check_shell_options(
    step_name: object, shell_user: object, work_dir: object, step_timeout: object
) -> None:
    """The step settings the decorator takes (not templated): checked at DAG parse time."""
    if not isinstance(step_name, str) or not _STEP_NAME_RE.match(step_name):
        raise ValueError(
            f"step_name must be a step name of letters, digits, '_', '.' or '-', got {step_name!r}."
        )
    for field, text in (("shell_user", shell_user), ("work_dir", work_dir)):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError(
                f"{field} must be a non-empty string or None (the agent's default), got {text!r}."
            )
    if isinstance(work_dir, str) and not work_dir.strip().startswith("/"):
        raise ValueError(f"work_dir must be an absolute path such as '/tmp', got {work_dir!r}.")
    step_timeout_ms(step_timeout)


def shell_template(
    *,
    name: str,
    script: str,
    instances: object,
    step_name: str = DEFAULT_STEP_NAME,
    shell_user: str | None = None,
    work_dir: str | None = None,
    step_timeout: object = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The inline template of one ExecuteShell step; every value checked, nothing sent."""
    check_shell_options(step_name, shell_user, work_dir, step_timeout)
    properties: dict[str, Any] = {"content": check_script(script), "instances": instance_refs(instances)}
    if shell_user is not None:
        properties["user"] = shell_user.strip()
    if work_dir is not None:
        properties["workDir"] = work_dir.strip()
    template: dict[str, Any] = {
        "name": name,
        "linear": True,
        "operators": [
            {
                "name": step_name,
                "operator": SHELL_ACTION,
                "retries": 0,  # a retry of the Airflow task is the retry: it reattaches or starts anew
                "retryInterval": DEFAULT_STEP_RETRY_INTERVAL_MS,
                "timeout": step_timeout_ms(step_timeout),
                "properties": properties,
            }
        ],
    }
    if description is not None:
        template["description"] = description
    return template
