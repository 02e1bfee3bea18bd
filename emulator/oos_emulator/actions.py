"""Simulated OOS actions. Nothing is ever run: BCC actions flip fake instances, shell scripts are recorded.

Test hooks in an `BCE::Agent::ExecuteShell` script (one per line):
  `# emulator: exit 3`            the script "exits" 3 (the task fails, the reason names the code)
  `# emulator: fail-attempts 2`   the first 2 attempts exit 1, later ones succeed (to exercise retries)
  `# emulator: output KEY=VALUE`  KEY appears in the task's outputContext
  `# emulator: sleep 2.5`         the simulated run lasts 2.5 s (times the time scale)
  `# emulator: rollback SUCCESS`  when the step finally fails, the execution goes to ROLLBACK
                                  for as long as the step ran, then ROLLBACK_SUCCESS
                                  (or `FAILED` → ROLLBACK_FAILED)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from oos_emulator.texts import Text, t

DEFAULT_DURATION_MS = 1000
BCC_ACTIONS = {
    # action → (status the instance must have, status afterwards)
    "BCE::BCC::StopInstance": ("Running", "Stopped"),
    "BCE::BCC::StartInstance": ("Stopped", "Running"),
    "BCE::BCC::RebootInstance": ("Running", "Running"),
}
SHELL_ACTION = "BCE::Agent::ExecuteShell"
ACTION_DESCRIPTIONS = {
    "BCE::BCC::StopInstance": "Stop BCC instances",
    "BCE::BCC::StartInstance": "Start BCC instances",
    "BCE::BCC::RebootInstance": "Reboot BCC instances",
    SHELL_ACTION: "Run a shell script on instances through the Cloud Assistant agent",
}
_DIRECTIVE_RE = re.compile(r"^\s*#\s*emulator:\s*(\S+)\s*(.*?)\s*$", re.MULTILINE)


@dataclass
class ActionResult:
    """One attempt's outcome; on failure `reason` and an emulator `error_code` (the real codes are
    not published)."""

    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    reason: Text | None = None
    log: list[str] = field(default_factory=list)
    error_code: str | None = None


def directives(params: dict[str, Any]) -> dict[str, str]:
    content = params.get("content")
    if not isinstance(content, str):
        return {}
    return {match.group(1).lower(): match.group(2) for match in _DIRECTIVE_RE.finditer(content)}


def outputs_directives(params: dict[str, Any]) -> dict[str, str]:
    content = params.get("content")
    found: dict[str, str] = {}
    for match in _DIRECTIVE_RE.finditer(content if isinstance(content, str) else ""):
        if match.group(1).lower() == "output" and "=" in match.group(2):
            key, _, value = match.group(2).partition("=")
            found[key.strip()] = value.strip()
    return found


def planned_duration_ms(action: str, params: dict[str, Any]) -> int:
    """How long one attempt runs at time scale 1."""
    if action == SHELL_ACTION:
        sleep = directives(params).get("sleep")
        if sleep is not None:
            try:
                return max(0, int(float(sleep) * 1000))
            except ValueError:
                pass
    return DEFAULT_DURATION_MS


def rollback_outcome(action: str, params: dict[str, Any]) -> str | None:
    """`ROLLBACK_SUCCESS`/`ROLLBACK_FAILED` when a failing step asks for a rollback, else None."""
    if action != SHELL_ACTION:
        return None
    wanted = directives(params).get("rollback", "").upper()
    return {"SUCCESS": "ROLLBACK_SUCCESS", "FAILED": "ROLLBACK_FAILED"}.get(wanted)


def instance_ids(params: dict[str, Any]) -> list[str]:
    """`instances: [{"instanceId"}]`, `instanceIds: [...]` or `instanceId`; unresolved Refs are ignored."""
    found: list[str] = []
    for item in params.get("instances") or []:
        if isinstance(item, dict) and isinstance(item.get("instanceId"), str):
            found.append(item["instanceId"])
        elif isinstance(item, str):
            found.append(item)
    found.extend(item for item in params.get("instanceIds") or [] if isinstance(item, str))
    if isinstance(params.get("instanceId"), str):
        found.append(params["instanceId"])
    return list(dict.fromkeys(found))


def run_action(
    action: str, params: dict[str, Any], inventory: dict[str, dict[str, Any]], attempt: int
) -> ActionResult:
    """Perform one attempt of `action` against the fake inventory (mutated in place on success)."""
    if action in BCC_ACTIONS:
        return _run_bcc(action, params, inventory)
    if action == SHELL_ACTION:
        return _run_shell(params, inventory, attempt)
    known = ", ".join(sorted(ACTION_DESCRIPTIONS))
    return ActionResult(
        ok=False,
        reason=t(
            "unknown action type {a!r}: the emulator simulates only {known}",
            "未知的动作类型 {a!r}：模拟器只模拟 {known}",
            a=action,
            known=known,
        ),
        error_code="Operator.NotSupported",
    )


def _run_bcc(action: str, params: dict[str, Any], inventory: dict[str, dict[str, Any]]) -> ActionResult:
    ids = instance_ids(params)
    if not ids:
        return ActionResult(
            ok=False,
            reason=t(
                '{a}: no instance given; set properties.instances to [{{"instanceId": "i-…"}}]',
                '{a}：未指定实例；请把 properties.instances 设为 [{{"instanceId": "i-…"}}]',
                a=action,
            ),
            error_code="Params.Invalid",
        )
    unknown = [i for i in ids if i not in inventory]
    if unknown:
        return ActionResult(
            ok=False,
            reason=_not_found(action, unknown),
            error_code="Instance.NotFound",
        )
    needed, after = BCC_ACTIONS[action]
    wrong = [f"{i} is {inventory[i]['status']}" for i in ids if inventory[i]["status"] != needed]
    if wrong:
        # The BCC API refuses, e.g., to stop an instance that is not running (Instance.InvalidStatus).
        return ActionResult(
            ok=False,
            reason=t(
                "{a}: Instance.InvalidStatus: {wrong} (needs {needed})",
                "{a}：Instance.InvalidStatus：{wrong}（需要 {needed}）",
                a=action,
                wrong="; ".join(wrong),
                needed=needed,
            ),
            error_code="Instance.InvalidStatus",
        )
    for i in ids:
        inventory[i]["status"] = after
        if action == "BCE::BCC::RebootInstance":
            inventory[i]["reboots"] = int(inventory[i].get("reboots", 0)) + 1
    return ActionResult(
        ok=True,
        outputs={"instances": [{"instanceId": i} for i in ids]},
        log=[f"{action}: {', '.join(ids)} now {after}"],
    )


def _run_shell(params: dict[str, Any], inventory: dict[str, dict[str, Any]], attempt: int) -> ActionResult:
    content = params.get("content")
    if not isinstance(content, str) or not content.strip():
        return ActionResult(
            ok=False,
            reason=t(
                "{a}: properties.content (the script) is required",
                "{a}：properties.content（脚本）必填",
                a=SHELL_ACTION,
            ),
            error_code="Params.Invalid",
        )
    ids = instance_ids(params)
    unknown = [i for i in ids if i not in inventory]
    if unknown:
        return ActionResult(
            ok=False,
            reason=_not_found(SHELL_ACTION, unknown),
            error_code="Instance.NotFound",
        )
    stopped = [i for i in ids if inventory[i]["status"] != "Running"]
    if stopped:
        return ActionResult(
            ok=False,
            reason=t(
                "{a}: agent offline, instance(s) not running: {ids}",
                "{a}：云助手 agent 离线，实例未运行：{ids}",
                a=SHELL_ACTION,
                ids=", ".join(stopped),
            ),
            error_code="Agent.Offline",
        )
    found = directives(params)
    exit_code = _int(found.get("exit"), 0)
    if "fail-attempts" in found:  # fail the first N attempts, then succeed
        exit_code = (exit_code or 1) if attempt <= _int(found["fail-attempts"], 0) else 0
    where = f" on {', '.join(ids)}" if ids else ""
    lines = len(content.splitlines())
    stdout = f"simulated: script of {lines} line(s) recorded{where}, not run"
    log = [f"script recorded (not run){where}:\n{content[:2000]}"]
    outputs: dict[str, Any] = {"exitCode": exit_code, "stdout": stdout, **outputs_directives(params)}
    if exit_code:
        return ActionResult(
            ok=False,
            outputs=outputs,
            reason=t(
                "script exited with code {code}{on}",
                "脚本退出码为 {code}{on}",
                code=exit_code,
                on=t(" on {ids}", "（实例 {ids}）", ids=", ".join(ids)) if ids else "",
            ),
            log=log,
            error_code="Script.NonZeroExit",
        )
    return ActionResult(ok=True, outputs=outputs, log=log)


def _not_found(action: str, ids: list[str]) -> Text:
    return t("{a}: instance(s) not found: {ids}", "{a}：实例不存在：{ids}", a=action, ids=", ".join(ids))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
