"""The HTML page of one task instance's OOS execution. Pure: every value goes through ``html.escape``.

What it shows comes from OOS's own answer (read once with ``withLog``): the execution's state,
reason and errorCode, each step with its action, state, duration, reason and errorCode, the
failing loop iteration, the last log lines and the outputs. The failing step and iteration are
found by the same rules as a task's failure message (``rules.reporting``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import Any, NamedTuple

from airflow_provider_oos.client.models import Execution, Task
from airflow_provider_oos.rules.reporting import (
    LOG_TAIL_LINES,
    _failing_child,
    _failing_step,
    _instance_of,
)

_STYLE = """
body{font-family:system-ui,sans-serif;font-size:14px;margin:12px;color:#1a202c}
h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #cbd5e0;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#edf2f7}
pre{background:#f7fafc;border:1px solid #e2e8f0;padding:6px;margin:0;white-space:pre-wrap}
.state{font-weight:600}.SUCCESS{color:#276749}.FAILED,.UPSTREAM_FAILED,.CANCELED,.CANCELLED,
.ROLLBACK_FAILED,.ROLLBACK_SUCCESS{color:#c53030}.RUNNING,.PENDING,.PAUSED{color:#2b6cb0}
.failing{background:#fff5f5}.note{color:#4a5568}
"""


class TaskInstanceRef(NamedTuple):
    """The task instance a page is about (from the URL; shown, never trusted for anything else).

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped index, -1 when not mapped.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def describe(self) -> str:
        mapped = f" [{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id} / {self.run_id} / {self.task_id}{mapped}"


def e(value: object) -> str:
    """One value as HTML text: None is empty, anything else is escaped (quotes too)."""
    return "" if value is None else escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_message(ti: TaskInstanceRef, title: str, text: str) -> str:
    """A page that says why there is no execution to show (or why it could not be read)."""
    body = f'<h1>{e(title)}</h1><p class="note">{e(ti.describe())}</p><p>{e(text)}</p>'
    return _page(title, body)


def duration_text(task: Task) -> str:
    """How long the step ran (``created`` to ``finished``, epoch ms); ``running`` while it runs."""
    start, end = task.created_timestamp, task.finished_timestamp
    if start is None:
        return ""
    if end is None:
        return "running"
    seconds = max(0, end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _state(state: str | None) -> str:
    return f'<span class="state {e(state)}">{e(state)}</span>'


def _json(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str)
    return f"<pre>{e(text)}</pre>"


def log_tail(task: Task) -> list[str]:
    """The task's last log messages (none when OOS sent no log)."""
    return [entry.text for entry in task.log or () if entry.text][-LOG_TAIL_LINES:]


def _log_block(task: Task) -> str:
    lines = log_tail(task)
    return f"<pre>{e(chr(10).join(lines))}</pre>" if lines else ""


def _rows(tasks: Iterable[Task], failing: Task | None) -> str:
    rows = []
    for task in tasks:
        action = task.operator.operator if task.operator else None
        css = ' class="failing"' if task is failing else ""
        rows.append(
            f"<tr{css}><td>{e(task.name)}</td><td>{e(action)}</td><td>{_state(task.state)}</td>"
            f"<td>{e(duration_text(task))}</td><td>{e(task.reason)}</td><td>{e(task.error_code)}</td>"
            f"<td>{_log_block(task)}</td></tr>"
        )
    head = "<tr><th>step</th><th>action</th><th>state</th><th>duration</th><th>reason</th>"
    return f'<table id="steps">{head}<th>errorCode</th><th>last log lines</th></tr>{"".join(rows)}</table>'


def _failing_iteration(step: Task) -> str:
    child = _failing_child(step)
    if child is None:
        return ""
    instance = _instance_of(child)
    where = f"loopIndex {child.loop_index}" if child.loop_index is not None else f"task {child.id}"
    items = [
        ("step", step.name),
        ("iteration", where),
        ("instance", instance),
        ("state", child.state),
        ("reason", child.reason),
        ("errorCode", child.error_code),
    ]
    cells = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in items if v not in (None, ""))
    logs = _log_block(child)
    return f'<h2>Failing iteration</h2><table id="failing-iteration">{cells}</table>{logs}'


def _outputs(execution: Execution) -> str:
    outputs = {name: out for name, out in execution.outputs_by_task().items() if out}
    if not outputs:
        return '<h2>Outputs</h2><p class="note">No step has outputs.</p>'
    items = "".join(f"<h3>{e(name)}</h3>{_json(out)}" for name, out in outputs.items())
    return f'<h2>Outputs</h2><div id="outputs">{items}</div>'


def render_execution(ti: TaskInstanceRef, execution: Execution, console_url: str | None) -> str:
    """The page of one execution, as OOS answered it (read with ``withLog``)."""
    step = _failing_step(execution) if execution.is_failed else None
    summary = [
        ("execution", execution.id),
        ("state", _state(execution.state)),
        ("template", execution.template.name if execution.template else None),
        ("reason", execution.reason),
        ("errorCode", execution.error_code),
    ]
    cells = "".join(
        f"<tr><th>{e(k)}</th><td>{v if k == 'state' else e(v)}</td></tr>"
        for k, v in summary
        if v not in (None, "")
    )
    link = (
        f'<p class="note">OOS console: <a href="{e(console_url)}" target="_blank" rel="noopener noreferrer">'
        f"{e(console_url)}</a></p>"
        if console_url and console_url.startswith(("https://", "http://"))
        else ""
    )
    body = (
        f'<h1>OOS execution {e(execution.id)}</h1><p class="note">{e(ti.describe())}</p>'
        f'<table id="execution">{cells}</table>{link}'
        f"<h2>Steps</h2>{_rows(execution.tasks, step)}"
        f"{_failing_iteration(step) if step is not None else ''}{_outputs(execution)}"
    )
    return _page(f"OOS execution {execution.id}", body)
