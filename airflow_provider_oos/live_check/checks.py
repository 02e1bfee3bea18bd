"""The calls of one live check, each read with the provider's own models and noted as a `Check`.

Order: probe both published path styles (the operator list of each: v1 below `/api/logic/oos`, v2
in the OpenAPI style) and say which answers; with ``--create-from``, run one execution of the
named template and wait for it through the hook and the waiting state machine; then, in each style
that answers (or the one asked for), list templates, operators (v1 and v2) and executions, read
one execution without and with ``withLog``, and one of its tasks and that task's children.

A 404 where the spec allows one (an OpenAPI-only call, or the other style's operator list, below
`/api/logic/oos`) is "not available", not a problem. Every other error is a problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client.connection import DEFAULT_BASE_PATH, OosConnectionConfig
from airflow_provider_oos.client.models import (
    Execution,
    ExecutionPage,
    OperatorPage,
    Task,
    TaskPage,
    Template,
    TemplatePage,
    is_known,
)
from airflow_provider_oos.client.operations import ApiCall
from airflow_provider_oos.client.routes import CREATE_EXECUTION
from airflow_provider_oos.exceptions import OosApiError, OosError
from airflow_provider_oos.live_check.recording import Exchange, LiveCheckHook
from airflow_provider_oos.live_check.settings import OPENAPI_BASE_PATH, Options
from airflow_provider_oos.live_check.shapes import kept_raw, shape_of, value_pattern
from airflow_provider_oos.rules.waiting import Finish, Stop, StopReason, WaitingStateMachine, failure_with_log

T = TypeVar("T")
PATH_STYLES = (DEFAULT_BASE_PATH, OPENAPI_BASE_PATH)
PAGE_SIZE = 10
CREATE_DESCRIPTION = "airflow-provider-oos live check"
CREATE_TAGS = {"airflow-provider-oos": "live-check"}


def style_name(base_path: str) -> str:
    return f"base_path {base_path!r}" if base_path else 'base_path "" (OpenAPI style)'


@dataclass
class Check:
    """One call of the live check and what came of it.

    :param step: what the live check was doing ("probe", "get execution withLog", ...).
    :param call: the published operation.
    :param base_path: the path style it was sent in.
    :param outcome: ``ok``, ``not available`` (a 404 the spec allows) or ``failed``.
    :param parsed: what the provider's reader made of the answer.
    :param kept_raw: fields the tolerant reader kept raw (see `shapes.kept_raw`).
    :param shape: the answer's `result`, without its values (see `shapes.shape_of`).
    :param error: the error, when the call did not succeed.
    :param http: the HTTP exchanges of the call (retries included).
    """

    step: str
    call: str
    base_path: str
    outcome: str = "ok"
    parsed: str = ""
    kept_raw: list[dict[str, Any]] = field(default_factory=list)
    shape: Any = None
    error: str | None = None
    http: list[Exchange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in vars(self).items() if key != "http"}
        data["http"] = [exchange.to_dict() for exchange in self.http]
        return data


def _describe(value: Any) -> str:
    if isinstance(value, TemplatePage):
        return f"TemplatePage: {len(value.templates)} template(s), totalCount {value.total_count}"
    if isinstance(value, OperatorPage):
        return f"OperatorPage: {len(value.operators)} action type(s), totalCount {value.total_count}"
    if isinstance(value, ExecutionPage):
        states = sorted({e.state or "?" for e in value.executions})
        count = len(value.executions)
        return f"ExecutionPage: {count} execution(s), totalCount {value.total_count}, states {states}"
    if isinstance(value, Execution):
        logs = sum(len(task.log or ()) for task in value.all_tasks())
        loops = sum(1 for task in value.tasks if task.children)
        return (
            f"Execution {value.id}: state {value.state}, trigger {value.trigger}, {len(value.tasks)} task(s) "
            f"({loops} with children), {logs} log line(s)"
        )
    if isinstance(value, Task):
        return f"Task {value.id} ({value.name}): state {value.state}, {len(value.children or ())} child(ren)"
    if isinstance(value, TaskPage):
        return f"TaskPage: {len(value.tasks)} child task(s), total {value.total_count}"
    if isinstance(value, Template):
        return f"Template {value.id} ({value.name}): {len(value.operators or ())} step(s)"
    if isinstance(value, str):
        return f"id {value}"
    return type(value).__name__


def _pick_task(execution: Execution) -> Task | None:
    """A task with children (a loop step) if there is one, else the first task with an id."""
    tasks = [task for task in execution.tasks if task.id]
    return next((task for task in tasks if task.children), tasks[0] if tasks else None)


class LiveCheck:
    """Runs the calls of one live check (see the module docstring) and keeps what it found.

    :param config: where to go (see `settings.config_from_env`).
    :param options: what to check beyond the read-only calls.
    :param say: where progress lines go.
    """

    def __init__(self, config: OosConnectionConfig, options: Options, say: Callable[[str], None]) -> None:
        self.config = config
        self.options = options
        self.say = say
        self.exchanges: list[Exchange] = []
        self.hook = LiveCheckHook(config, self.exchanges)
        self.checks: list[Check] = []
        self.styles: dict[str, str] = {}
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.created: dict[str, Any] | None = None

    def run(self) -> None:
        answering = [style for style in PATH_STYLES if self._probe(style)]
        if not answering:
            self.problems.append("no path style answers: check the endpoint, the keys and the clock")
            return
        self.notes.append(f"answering path style(s): {', '.join(map(style_name, answering))}")
        reading = [self.options.base_path] if self.options.base_path is not None else answering
        execution_id = self.options.execution_id
        if self.options.create_from is not None:
            style = (
                reading[0] if self.options.base_path is not None else answering[-1]
            )  # OpenAPI if it answers
            execution_id = self._create(self.options.create_from, style) or execution_id
        for style in reading:
            self._reads(style, execution_id)

    # --- one call ---------------------------------------------------------------------------
    def _record(
        self, step: str, call: str, base_path: str, send: Callable[[list[Any]], T], *, optional: bool = False
    ) -> T | None:
        check = Check(step, call, base_path)
        start = len(self.exchanges)
        raw: list[Any] = []
        value: T | None = None
        try:
            value = send(raw)
        except OosError as exc:
            status = exc.status if isinstance(exc, OosApiError) else None
            check.outcome = "not available" if optional and status == 404 else "failed"
            check.error = str(exc)
            if check.outcome == "failed":
                self.problems.append(f"{step} ({style_name(base_path)}): {exc}")
        else:
            check.parsed = _describe(value)
            check.kept_raw = kept_raw(value)
        if raw:
            check.shape = shape_of(raw[0])
        check.http = self.exchanges[start:]
        self.checks.append(check)
        self._say(check)
        return value

    def _call(
        self,
        step: str,
        call: ApiCall[T],
        base_path: str,
        *,
        optional: bool = False,
        attempts: int | None = None,
    ) -> T | None:
        def send(raw: list[Any]) -> T:
            def read(result: Any, path: str) -> T:
                raw.append(result)  # the answer as sent, for its shape
                return call.read(result, path)

            return self.hook.run(replace(call, read=read), attempts=attempts, base_path=base_path)

        return self._record(step, call.route.name, base_path, send, optional=optional)

    def _say(self, check: Check) -> None:
        last = check.http[-1] if check.http else None
        status = f"HTTP {last.status}" if last and last.status is not None else "no answer"
        request_id = f", request id {last.request_id or last.sent_request_id}" if last else ""
        what = check.parsed or check.error or ""
        extra = f"; kept raw: {', '.join(k['path'] for k in check.kept_raw)}" if check.kept_raw else ""
        self.say(
            f"{check.outcome:<13} {check.step} [{style_name(check.base_path)}] -> "
            f"{status}{request_id}: {what}{extra}"
        )

    # --- the steps --------------------------------------------------------------------------
    def _probe(self, style: str) -> bool:
        call = ops.list_operators(1, 1, api_version="v1" if style else "v2")
        page = self._call("probe", call, style, optional=True, attempts=1)
        check = self.checks[-1]
        self.styles[style] = "answers" if page is not None else f"{check.outcome}: {check.error}"
        return page is not None

    def _reads(self, style: str, execution_id: str | None) -> None:
        seed_style = bool(style)
        self._call("list templates", ops.list_templates(1, PAGE_SIZE), style)
        for version in ("v1", "v2"):
            native = (version == "v1") == seed_style
            call = ops.list_operators(1, PAGE_SIZE, api_version=version)
            self._call(f"list operators {version}", call, style, optional=not native)
        listed = self._call(
            "list executions",
            ops.list_executions(page_no=1, page_size=PAGE_SIZE, sort="startTime", ascending=False),
            style,
            optional=seed_style,
        )
        if listed is not None:
            self._note_states(listed.executions)
        if execution_id is None and listed is not None and listed.executions:
            execution_id = listed.executions[0].id
        if execution_id is None:
            self.notes.append(
                f"{style_name(style)}: no execution to read (none listed): pass --execution-id d-… "
                "or --create-from TEMPLATE_NAME"
            )
            return
        plain = self._call("get execution", ops.get_execution(execution_id), style)
        logged = self._call("get execution withLog", ops.get_execution(execution_id, with_log=True), style)
        self._note_logs(style, plain, logged)
        execution = logged or plain
        task = _pick_task(execution) if execution is not None else None
        if task is None or task.id is None:
            self.notes.append(f"{style_name(style)}: execution {execution_id} has no task to read")
            return
        self._call("get task", ops.get_task(execution_id, task.id), style, optional=seed_style)
        children = ops.list_task_children(execution_id, task.id, page_size=PAGE_SIZE)
        self._call("list task children", children, style, optional=seed_style)

    def _note_states(self, executions: list[Execution]) -> None:
        for state in sorted({e.state for e in executions if not is_known(e.state)}, key=str):
            self.notes.append(
                f"unknown execution state {state!r} listed (the provider waits on it as not final)"
            )

    def _note_logs(self, style: str, plain: Execution | None, logged: Execution | None) -> None:
        where = style_name(style)
        if plain is not None and any(task.log is not None for task in plain.all_tasks()):
            self.notes.append(f"{where}: tasks carried a log without withLog (the seed's example has none)")
        if logged is None:
            return
        lines = [line for task in logged.all_tasks() for line in task.log or ()]
        forms = sorted({value_pattern(line.timestamp) for line in lines})
        self.notes.append(f"{where}: withLog gave {len(lines)} log line(s); timestamp forms {forms}")

    def _create(self, name: str, style: str) -> str | None:
        template = self._call("get template", ops.get_template(name), style)
        if template is None or not template.id:
            if template is not None:
                self.problems.append(f"get template: template {name!r} came back without an id")
            return None
        hook = LiveCheckHook(replace(self.config, base_path=style), self.exchanges)
        chosen = Template(ref=template.id, name=template.name or name)
        properties = self.options.properties

        def create(raw: list[Any]) -> str:
            return hook.create_execution(chosen, properties, description=CREATE_DESCRIPTION, tags=CREATE_TAGS)

        execution_id = self._record("create execution", CREATE_EXECUTION.name, style, create)
        if execution_id is not None:
            self._wait(hook, execution_id, style)
        return execution_id

    def _poll(self, hook: LiveCheckHook, machine: WaitingStateMachine) -> tuple[Finish | Stop, int]:
        """Read until the state machine says Finish or Stop; return that and the number of reads."""
        reads = 0
        while True:
            reads += 1
            observation: Execution | BaseException
            try:
                observation = hook.get_execution(machine.execution_id)
            except OosError as exc:
                observation = exc
            action = machine.next_action(observation, time.monotonic())
            for note in action.notes:
                self.say(f"              {note.message}")
            if isinstance(action, Finish | Stop):
                return action, reads
            time.sleep(action.seconds)

    def _wait(self, hook: LiveCheckHook, execution_id: str, style: str) -> None:
        """Wait as the operator's worker loop does: read, let the state machine decide, sleep."""
        console_url = hook.console_url(execution_id)
        timeout = self.options.timeout
        machine = WaitingStateMachine(
            execution_id,
            console_url,
            poll_interval=self.options.poll_interval,
            deadline=time.monotonic() + timeout,
            timeout=timeout,
        )
        check = Check("wait", "get execution", style)
        start = len(self.exchanges)
        action, reads = self._poll(hook, machine)
        state = action.execution.state if action.execution is not None else None
        self.created = {"execution_id": execution_id, "state": state, "reads": reads}
        self.created["console_url"] = console_url
        if isinstance(action, Finish):
            check.parsed = f"execution {execution_id} ended {state} after {reads} read(s)"
        elif action.reason is StopReason.FAILED:
            # Described from one more read with logs, as the operator does.
            detailed: Execution | BaseException
            try:
                detailed = hook.get_execution(execution_id, with_log=True)
            except OosError as exc:
                detailed = exc
            message = failure_with_log(action, detailed, console_url).message
            check.parsed = f"execution {execution_id} ended {state} after {reads} read(s)"
            self.notes.append(f"the created execution failed (its template's work, not the API):\n{message}")
        else:
            check.outcome, check.error = "failed", action.message
            self.problems.append(f"wait: {action.message}")
        check.http = self.exchanges[start:]
        self.checks.append(check)
        self._say(check)
