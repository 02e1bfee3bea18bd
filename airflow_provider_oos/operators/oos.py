"""OosCreateExecutionOperator: start an OOS execution and wait until it is final.

The template upkeep operators live in `operators.templates` and are importable from here too.
Importing this module stays cheap: the hook (and requests/aiohttp with it) loads when a task runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow_provider_oos.client.models import Template, is_final, is_successful
from airflow_provider_oos.client.payloads import execution_options
from airflow_provider_oos.links.oos import OosExecutionLink
from airflow_provider_oos.operators.base import OOS_TEMPLATE_FIELDS, RUN_INPUT_FIELDS, OosBaseOperator
from airflow_provider_oos.operators.execution_request import (
    ExecutionRequest,
    check_template_source,
    check_wait_settings,
    validate_execution_request,
)
from airflow_provider_oos.operators.safety import (
    WorkerAttention,
    defer_again,
    guard_start,
    look_for_earlier_try,
    window_end_for,
)
from airflow_provider_oos.operators.templates import OosDeleteTemplateOperator, OosUpsertTemplateOperator
from airflow_provider_oos.rules.notify import ATTENTION_STATUS, NotifierArg, validate_notifiers
from airflow_provider_oos.rules.reattach import CREATE, task_instance_tags
from airflow_provider_oos.rules.waiting import Finish, Stop, WaitingStateMachine, log_notes, summarize
from airflow_provider_oos.rules.window import StartWindow
from airflow_provider_oos.version_compat import HAS_TASK_STATE_STORE, ResumableJobMixin, conf, durable_kwargs

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_oos.client.models import Execution
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger

__all__ = [
    "HAS_TASK_STATE_STORE",
    "OosCreateExecutionOperator",
    "OosDeleteTemplateOperator",
    "OosUpsertTemplateOperator",
]


class OosCreateExecutionOperator(ResumableJobMixin, OosBaseOperator):  # type: ignore[misc]
    """Start an OOS execution and (by default) wait until it is final; return a small summary.

    Order of work: local checks → ``before_create`` → create → push XCom ``execution_id`` and
    ``console_url`` at once → if waiting, look once (no deferral for an execution already final) →
    wait in the worker or defer to :class:`~airflow_provider_oos.triggers.oos.OosExecutionTrigger`
    → return ``{"execution_id", "state", "console_url", "tasks": {step: {"state", "outputs"}}}``.

    Outcomes: SUCCESS returns the summary. FAILED, CANCELED, ROLLBACK_* raise
    :class:`~airflow_provider_oos.exceptions.OosExecutionFailedError` naming the failing step, its
    reason, errorCode, failing loop iteration and log tail (read once with ``withLog``). This is
    deliberately *not* an ``AirflowFailException``: the task's ``retries`` apply and a retry starts a
    new execution (an OOS failure is often a passing cloud condition). PAUSED: keep waiting with one
    warning and the console link, or raise ``OosExecutionPausedError``. No final state within
    ``timeout``: ``OosExecutionTimeoutError`` naming the last state. Unknown states: logged once,
    waited on.

    Crash safety, on every Airflow version: a retry (after a worker crash, a timeout, a pause or a
    lost API connection) reconnects to the execution of an earlier try while it is not final, or
    returns its result if it succeeded; after a *failed* execution it starts a new one. On Airflow
    >= 3.3 the id kept in the ``task_state_store`` (``ResumableJobMixin``, ``durable=True``) is asked
    first; the execution's Airflow tags, found with the list-executions call, are the fallback and
    the only source below 3.3 (``reattach=False`` turns that lookup off). Each create carries a
    create token, so a create whose answer was lost is found instead of resent. OOS publishes no
    cancel call: killing the task leaves the execution running; ``on_kill`` logs the console link.

    Maintenance window, checked right before a create: outside it nothing is created and the task
    is skipped or failed, saying which window was missed and by how much. A window that closes
    mid-run gives a loud warning with the console link and ``on_window_closed_callback`` (the
    execution is not stopped). ``on_pause_callback`` is called once per pause, from the worker.

    Extension points for subclasses: ``before_create`` (e.g. a window guard, a preflight, adopting
    an execution of an earlier try), ``execution_tags``, ``build_trigger``, and in the worker loop
    ``on_still_running`` and ``on_pause_seen``.

    :param template_ref: the id (``tpl-…``) of an existing template to run (templated).
    :param template_name: the name of an existing template to run, looked up once (templated).
    :param template: an inline template (templated): a ``Template``, a dict, JSON text or a ``.json``
        file path. Give exactly one of ``template_ref``, ``template_name`` and ``template``.
    :param properties: the execution's properties, the template parameters (templated, JSON).
    :param description: the execution's description (templated).
    :param tags: execution tags ``{name: value}`` (templated).
    :param parallelism: how many loop iterations OOS runs at once (published create option).
    :param manually: whether OOS waits for a person before each step (published create option).
    :param tag_with_airflow_context: add tags naming the DAG, run, task and map index (default True).
    :param wait_for_completion: wait until the execution is final (default); False returns the
        summary of the state seen right after create, without judging it.
    :param deferrable: wait in the triggerer instead of the worker. Default from
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between reads of a running execution (default 30).
    :param timeout: seconds to wait for a final state; None (default) waits forever.
    :param on_paused: ``"wait"`` (default) or ``"fail"`` when the execution waits for a person.
    :param durable: Airflow >= 3.3: keep the execution id for a retry to reconnect (default True).
        Accepted below 3.3 with one warning; no effect there.
    :param latest_start: the last moment to start: an aware datetime, or a ``timedelta`` after
        ``window_anchor`` (see :class:`~airflow_provider_oos.rules.window.StartWindow`).
    :param window_end: when the maintenance window closes (same forms).
    :param expected_duration: a ``timedelta`` that must still fit before ``window_end``.
    :param window_anchor: ``"data_interval_end"`` (default) or ``"data_interval_start"``; a run
        without a data interval counts from its ``run_after``.
    :param on_window_missed: ``"skip"`` (default) or ``"fail"`` when the window was missed.
    :param on_pause_callback: Airflow notifier(s) or callable(s) called once per pause with the task
        context plus ``oos_event``, ``oos_execution_id``, ``oos_console_url``, ``oos_message``.
    :param on_window_closed_callback: the same, called when the window closes mid-run.
    :param reattach: look for an execution of an earlier try by its tags before creating (default
        True; needs ``tag_with_airflow_context``).
    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    template_fields: Sequence[str] = (
        *OOS_TEMPLATE_FIELDS,
        *RUN_INPUT_FIELDS,
        "description",
        "tags",
    )
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "template": "json",
        "properties": "json",
        "tags": "json",
    }
    operator_extra_links = (OosExecutionLink(),)
    ui_color = "#2468f2"
    external_id_key = "oos_execution_id"
    _request: ExecutionRequest  # the validated input of the running try

    def __init__(
        self,
        *,
        template_ref: str | None = None,
        template_name: str | None = None,
        template: Template | dict[str, Any] | str | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        parallelism: int | None = None,
        manually: bool | None = None,
        tag_with_airflow_context: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float | None = None,
        on_paused: str = "wait",
        latest_start: datetime | timedelta | None = None,
        window_end: datetime | timedelta | None = None,
        expected_duration: timedelta | None = None,
        window_anchor: str = "data_interval_end",
        on_window_missed: str = "skip",
        on_pause_callback: NotifierArg = None,
        on_window_closed_callback: NotifierArg = None,
        reattach: bool = True,
        durable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**durable_kwargs(durable), **kwargs)
        self.template_ref = template_ref
        self.template_name = template_name
        self.template = template
        self.properties = properties
        self.description = description
        self.tags = tags
        self.parallelism = parallelism
        self.manually = manually
        self.tag_with_airflow_context = tag_with_airflow_context
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.on_paused = on_paused
        # Settings that are not templated are checked now: a DAG with a typo fails at parse time.
        check_template_source(template_ref, template_name, template)
        check_wait_settings(poll_interval, timeout, on_paused)
        execution_options(parallelism, manually)  # the client's one check of both
        self.start_window = StartWindow(
            latest_start, window_end, expected_duration, window_anchor, on_window_missed
        )
        self.on_pause_callback = validate_notifiers(on_pause_callback, "on_pause_callback")
        self.on_window_closed_callback = validate_notifiers(
            on_window_closed_callback, "on_window_closed_callback"
        )
        self.reattach = reattach
        self._attention = WorkerAttention()
        self._execution_id: str | None = None
        self._console_url: str | None = None
        self._result: dict[str, Any] | None = None

    def execute(self, context: Context) -> Any:
        self._request = validate_execution_request(  # rendered values, before any API call
            template_ref=self.template_ref,
            template_name=self.template_name,
            template=self.template,
            properties=self.properties,
            description=self.description,
            tags=self.tags,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            on_paused=self.on_paused,
        )
        self._execution_id = self._console_url = None  # per-try state (an operator object may be reused)
        self._result = None
        self._attention = self._new_attention(context)
        return self.execute_resumable(context)

    def _new_attention(self, context: Context) -> WorkerAttention:
        return WorkerAttention(
            pause_callbacks=self.on_pause_callback,
            window_closed_callbacks=self.on_window_closed_callback,
            window_end=window_end_for(self.start_window, context),
        )

    # Extension points: each does nothing here.

    def before_create(self, context: Context) -> str | None:
        """Called right before the create call. Raise to stop (a closed maintenance window, a failed
        preflight), return the id of an execution to wait on instead of creating one (an execution
        an earlier try started), or None to create a new one."""
        if self.reattach and self.tag_with_airflow_context:  # untagged executions cannot be found
            request = self._request
            name = request.template.name if request.template is not None else request.template_name
            found = look_for_earlier_try(self.hook, context, name, self.log)
            if found.action != CREATE and found.execution is not None:
                return found.execution.id
        guard_start(self.start_window, context, self.log)  # skips or fails outside the window
        return None

    def on_still_running(self, execution: Execution, context: Context) -> None:
        """Called by the worker loop after each read that finds the execution not final, before it
        sleeps or defers."""
        self._attention.observe(execution, context, self._console_url, self.log)

    def on_pause_seen(self, execution: Execution, *, new_pause: bool, context: Context) -> None:
        """Called by the worker loop for each read that finds the execution PAUSED while it goes on
        waiting (``on_paused="wait"``); ``new_pause`` is True on the first read of each pause."""

    def execution_tags(self, context: Context) -> dict[str, str]:
        """The tags sent with the create: the Airflow ones (unless turned off), then the user's."""
        tags = dict(task_instance_tags(context["ti"])) if self.tag_with_airflow_context else {}
        return {**tags, **self._request.tags}

    def build_trigger(self, execution_id: str) -> OosExecutionTrigger:
        """The trigger a deferred wait hands to the triggerer; its deadline is wall-clock time."""
        from airflow_provider_oos.triggers.oos import OosExecutionTrigger

        return OosExecutionTrigger(
            execution_id=execution_id,
            oos_conn_id=self.oos_conn_id,
            poll_interval=float(self.poll_interval),
            deadline=time.time() + self.timeout if self.timeout is not None else None,
            on_paused=self.on_paused,
            **self._attention.trigger_kwargs(),
        )

    # ResumableJobMixin protocol.

    def submit_job(self, context: Context) -> str:
        adopted = self.before_create(context)
        if adopted is not None:
            self.log.info("Waiting on OOS execution %s instead of creating one.", adopted)
            self._push_execution_xcoms(adopted, context)
            return adopted
        request = self._request
        execution_id = self.hook.create_execution(
            self._template_to_run(request),
            properties=request.properties,
            description=request.description,
            tags=self.execution_tags(context),
            parallelism=self.parallelism,
            manually=self.manually,
        )
        self.log.info("Created OOS execution %s.", execution_id)
        self._push_execution_xcoms(execution_id, context)
        return execution_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return self.hook.get_execution(str(external_id)).state or "UNKNOWN"

    def is_job_active(self, status: str) -> bool:
        return not is_final(status)

    def is_job_succeeded(self, status: str) -> bool:
        return is_successful(status)

    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        # Returns the summary too: the 3.3 mixin returns this value directly when it reconnects.
        execution_id = str(external_id)
        console_url = self._push_execution_xcoms(execution_id, context)
        if self.wait_for_completion:
            self._result = self._wait(execution_id, console_url, context)
        else:
            self._result = summarize(self.hook.get_execution(execution_id), console_url)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        if self._result is None:  # a retry found the execution already succeeded
            execution_id = str(external_id)
            console_url = self._push_execution_xcoms(execution_id, context)
            self._result = summarize(self.hook.get_execution(execution_id), console_url)
        return self._result

    def _template_to_run(self, request: ExecutionRequest) -> Template:
        if request.template is not None:
            return request.template
        if request.template_name is not None:
            found = self.hook.get_template(request.template_name)
            self.log.info("Template %r is %s.", request.template_name, found.id)
            return Template(ref=found.id, name=found.name or request.template_name)
        return Template(ref=request.template_ref)

    def _push_execution_xcoms(self, execution_id: str, context: Context) -> str:
        """Push the id and the console link once per try, right away, so the link works while it runs."""
        if self._execution_id == execution_id and self._console_url is not None:
            return self._console_url
        self._execution_id = execution_id
        self._console_url = console_url = self.hook.console_url(execution_id)
        context["ti"].xcom_push(key="execution_id", value=execution_id)
        context["ti"].xcom_push(key="console_url", value=console_url)
        self.log.info("OOS execution %s: %s", execution_id, console_url)
        return console_url

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _wait(self, execution_id: str, console_url: str, context: Context) -> dict[str, Any]:
        """The worker loop: read, let the state machine decide, log its notes, sleep. The first read
        that finds the execution not final defers, when deferrable."""
        machine = WaitingStateMachine(
            execution_id,
            console_url,
            poll_interval=self.poll_interval,
            on_paused=self.on_paused,
            deadline=time.monotonic() + self.timeout if self.timeout is not None else None,
            timeout=self.timeout,
        )
        while True:
            action = machine.next_action(self.read_execution(execution_id), time.monotonic())
            log_notes(self.log, action.notes)
            if isinstance(action, Finish):
                return action.summary
            if isinstance(action, Stop):
                raise self.error_for_stop(action, console_url)
            if action.execution is not None:
                if action.paused:
                    self.on_pause_seen(action.execution, new_pause=action.pause_began, context=context)
                self.on_still_running(action.execution, context)
                if self.deferrable:
                    self._defer(execution_id)
            self._sleep(action.seconds)

    def _defer(self, execution_id: str) -> NoReturn:
        self.log.info("Deferring: the triggerer waits for OOS execution %s.", execution_id)
        self.defer(trigger=self.build_trigger(execution_id), method_name="execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: the same outcome rules, applied to its one event. A pause or
        the window end (an ``attention`` event) is notified here, in the worker, then the wait defers
        again with the same deadline."""
        if event.get("status") != ATTENTION_STATUS:
            return self.summary_from_event(event, self.timeout)
        defer_again(self, self._new_attention(context), event, context)

    def on_kill(self) -> None:
        if self._execution_id is None:
            self.log.info("Killed before an OOS execution was created; nothing keeps running.")
            return
        self.log.warning(
            "OOS offers no API to cancel an execution: %s keeps running after this task is killed. "
            "Stop it by hand in the console if needed: %s",
            self._execution_id,
            self._console_url or f"the OOS console (connection {self.oos_conn_id!r})",
        )
