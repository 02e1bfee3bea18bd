"""The live check's report, as JSON and as Markdown, with every secret taken out.

The report holds each call (its HTTP exchanges with status and request ids, what parsed, the
fields kept raw, the answer's shape), which path style answers, notes and problems. Secrets: the
secret key and the STS token are never put in; as a guard, `redact` replaces them (and the access
key, but for its first characters) in every text written or printed, JSON-escaped forms included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_oos import __version__
from airflow_provider_oos.client.auth import BceCredentials
from airflow_provider_oos.live_check.checks import LiveCheck, style_name

REPORT_VERSION = 1


def masked_key(access_key_id: str) -> str:
    return f"{access_key_id[:4]}…" if len(access_key_id) > 8 else "…"


class Redactor:
    """Replaces the secrets of `credentials` in any text (and the access key by its masked form).

    :param credentials: the keys in use.
    """

    def __init__(self, credentials: BceCredentials) -> None:
        pairs = [(credentials.secret_access_key, "***"), (credentials.session_token or "", "***")]
        pairs.append((credentials.access_key_id, masked_key(credentials.access_key_id)))
        # The JSON-escaped spelling too, for a secret with a quote or a backslash in it.
        self._pairs = [
            (spelled, replacement)
            for secret, replacement in pairs
            if secret
            for spelled in {secret, json.dumps(secret)[1:-1]}
        ]
        self._pairs.sort(key=lambda pair: -len(pair[0]))

    def __call__(self, text: str) -> str:
        for secret, replacement in self._pairs:
            text = text.replace(secret, replacement)
        return text


def build_report(check: LiveCheck, started: datetime) -> dict[str, Any]:
    """The report as JSON-ready data."""
    config = check.config
    return {
        "report": "airflow-provider-oos live check",
        "report_version": REPORT_VERSION,
        "provider_version": __version__,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "result": "failed" if check.problems else "passed",
        "endpoint": config.endpoint,
        "region": config.region,
        "access_key_id": masked_key(config.credentials.access_key_id),
        "sts_token_used": config.credentials.session_token is not None,
        "path_styles": {style_name(style): verdict for style, verdict in check.styles.items()},
        "created_execution": check.created,
        "problems": list(check.problems),
        "notes": list(check.notes),
        "http_exchanges": len(check.exchanges),
        "checks": [item.to_dict() for item in check.checks],
    }


def _cell(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split()).replace("|", "\\|")


def _list(title: str, items: Iterable[str]) -> list[str]:
    lines = [f"## {title}", ""]
    lines += [f"- {_cell(item)}" for item in items] or ["- none"]
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    """The report for a person (and an issue): the verdict, the path styles, a table of calls."""
    lines = [
        f"# OOS live check: {report['result']}",
        "",
        f"airflow-provider-oos {report['provider_version']}, {report['started']} to {report['finished']}; "
        f"endpoint `{report['endpoint']}` (region `{report['region']}`), access key "
        f"`{report['access_key_id']}`, STS token {'used' if report['sts_token_used'] else 'not used'}; "
        f"{report['http_exchanges']} HTTP exchange(s).",
        "",
        "## Path styles",
        "",
        "| style | probe |",
        "|---|---|",
        *(f"| {_cell(style)} | {_cell(verdict)} |" for style, verdict in report["path_styles"].items()),
        "",
    ]
    if report["created_execution"]:
        created = report["created_execution"]
        lines += [
            f"Created execution `{created['execution_id']}`: {created['state']} ({created['reads']} reads).",
            "",
        ]
    lines += _list("Problems", report["problems"])
    lines += _list("Notes", report["notes"])
    lines += [
        "## Calls",
        "",
        "| step | call | style | outcome | HTTP | request id | parsed | kept raw |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in report["checks"]:
        http = item["http"]
        statuses = ", ".join(str(x["status"]) if x["status"] is not None else x["error"] or "-" for x in http)
        ids = ", ".join(str(x["request_id"] or x["sent_request_id"]) for x in http[-3:])
        raw = ", ".join(f"{k['path']} ({k['kind']})" for k in item["kept_raw"])
        what = item["parsed"] or item["error"]
        style = _cell(item["base_path"]) or '""'
        lines.append(
            f"| {_cell(item['step'])} | {_cell(item['call'])} | `{style}` | "
            f"{item['outcome']} | {_cell(statuses)} | {_cell(ids)} | {_cell(what)} | {_cell(raw)} |"
        )
    lines += ["", "## Shapes of the answers", ""]
    for item in report["checks"]:
        if item["shape"] is not None:
            shape = json.dumps(item["shape"], indent=1, ensure_ascii=False)
            title = f"{item['step']} [{item['base_path'] or 'OpenAPI style'}]"
            lines += [
                f"<details><summary>{_cell(title)}</summary>",
                "",
                "```json",
                shape,
                "```",
                "",
                "</details>",
            ]
    return "\n".join(lines) + "\n"


def write_reports(report: dict[str, Any], json_path: Path, redact: Redactor) -> tuple[Path, Path]:
    """Write `json_path` and the Markdown beside it (same name, `.md`); return both paths."""
    md_path = json_path.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(redact(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    md_path.write_text(redact(render_markdown(report)), encoding="utf-8")
    return json_path, md_path
