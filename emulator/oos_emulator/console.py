"""A small read-only HTML console: one page per execution, as the OOS console's deep link.

`GET /console/execution/{execution_id}` shows the execution's state, reason, tags and, per step,
its state, tries, reason, errorCode, outputs, loop iterations and log lines; `GET /console/`
lists the executions. No signature (a browser opens it); every value is HTML-escaped. A connection
pointed at the emulator uses `http://HOST:PORT/console/execution/{execution_id}` as `console_url`.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from oos_emulator import CONSOLE_PATH
from oos_emulator.paths import CONSOLE_PREFIX
from oos_emulator.texts import localize_execution, request_locale

if TYPE_CHECKING:
    from oos_emulator.state import Emulator

_INDEX_LINK = '<p><a href="/console/">all executions</a></p>'
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}pre{margin:0;white-space:pre-wrap;max-width:60rem}
.SUCCESS{color:#176f2c}.FAILED,.ROLLBACK_FAILED,.UPSTREAM_FAILED{color:#b00020}
.RUNNING,.PENDING,.PAUSED,.UP_FOR_RETRY,.ROLLBACK{color:#8a5a00}
"""


def console_url_template(base_url: str) -> str:
    """`http://HOST:PORT/console/execution/{execution_id}` for a connection's `console_url` extra."""
    return base_url.rstrip("/") + CONSOLE_PATH


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _json(value: Any) -> str:
    return f"<pre>{_e(json.dumps(value, ensure_ascii=False, indent=1))}</pre>" if value else ""


def _state(value: Any) -> str:
    return f'<span class="{_e(value)}">{_e(value)}</span>'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _log(task: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(entry.get('timestamp', ''))}</td><td>{_e(entry.get('level', ''))}</td>"
        f"<td><pre>{_e(entry.get('msg', ''))}</pre></td></tr>"
        for entry in task.get("log") or []
    )
    head = "<tr><th>time</th><th>level</th><th>message</th></tr>"
    return f'<table class="log">{head}{rows}</table>' if rows else ""


def _children(task: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(child.get('loopIndex'))}</td><td>{_state(child.get('state'))}</td>"
        f"<td>{_json(child.get('context'))}</td><td>{_e(child.get('reason', ''))}</td>"
        f"<td>{_e(child.get('errorCode', ''))}</td><td>{_json(child.get('outputContext'))}</td></tr>"
        for child in task.get("children") or []
    )
    if not rows:
        return ""
    names = ("loopIndex", "state", "acts on", "reason", "errorCode", "outputs")
    head = "<tr>" + "".join(f"<th>{name}</th>" for name in names) + "</tr>"
    return f'<h4>Loop iterations</h4><table class="children">{head}{rows}</table>'


def _task(task: dict[str, Any]) -> str:
    operator = task.get("operator") or {}
    facts = [
        ("state", _state(task.get("state"))),
        ("action", _e(operator.get("operator", ""))),
        ("tries", _e(task.get("tries", 0))),
    ]
    facts += [(key, _e(task[key])) for key in ("reason", "errorCode") if task.get(key)]
    facts += [("outputs", _json(task.get("outputContext")))] if task.get("outputContext") else []
    rows = "".join(f"<tr><th>{_e(name)}</th><td>{value}</td></tr>" for name, value in facts)
    return (
        f'<section class="step" id="{_e(task.get("id", ""))}"><h3>Step {_e(operator.get("name", ""))}</h3>'
        f"<table>{rows}</table>{_children(task)}{_log(task)}</section>"
    )


def execution_page(execution: dict[str, Any]) -> str:
    template = execution.get("template") or {}
    tags = ", ".join(f"{t.get('tagKey')}={t.get('tagValue')}" for t in execution.get("tags") or [])
    facts = [
        ("state", _state(execution.get("state"))),
        ("template", _e(template.get("name", ""))),
        ("description", _e(execution.get("description", ""))),
        ("trigger", _e(execution.get("trigger", ""))),
        ("tags", _e(tags)),
        ("created", _e(execution.get("createdTimestamp", ""))),
        ("finished", _e(execution.get("finishedTimestamp", ""))),
    ]
    facts += [(key, _e(execution[key])) for key in ("reason", "errorCode") if execution.get(key)]
    rows = "".join(f"<tr><th>{_e(name)}</th><td>{value}</td></tr>" for name, value in facts)
    steps = "".join(_task(task) for task in execution.get("tasks") or [])
    title = f"OOS execution {execution.get('id', '')}"
    body = f'<h1>{_e(title)}</h1>{_INDEX_LINK}<table class="execution">{rows}</table>'
    return _page(title, body + f"<h2>Steps</h2>{steps}")


def console_router(emulator: Emulator) -> APIRouter:
    router = APIRouter()
    store = emulator.store

    @router.get(CONSOLE_PREFIX + "{execution_id}")
    async def execution(execution_id: str, locale: str | None = None) -> HTMLResponse:
        """One execution's page; its reasons in `?locale=` (Chinese by default, as the API)."""
        with store.lock:
            record = store.executions.get(execution_id)
            if record is not None:
                view = localize_execution(record.body, request_locale(locale), record.runtime)
            html = execution_page(view) if record is not None else None
        if html is None:
            message = f"<h1>Execution {_e(execution_id)} not found</h1>{_INDEX_LINK}"
            return HTMLResponse(_page("OOS execution not found", message), status_code=404)
        return HTMLResponse(html)

    @router.get("/console/")
    async def index() -> HTMLResponse:
        with store.lock:
            rows = "".join(
                f'<tr><td><a href="{_e(CONSOLE_PREFIX + quote(r.body["id"], safe=""))}">'
                f"{_e(r.body['id'])}</a></td>"
                f"<td>{_e(r.body['template'].get('name', ''))}</td><td>{_state(r.body['state'])}</td></tr>"
                for r in reversed(list(store.executions.values()))
            )
        head = "<tr><th>execution</th><th>template</th><th>state</th></tr>"
        return HTMLResponse(_page("OOS executions", f"<h1>OOS executions</h1><table>{head}{rows}</table>"))

    return router
