"""Operators that start OOS executions and keep OOS templates next to the DAGs that use them.

Importing this module stays cheap: the hook (and with it requests/aiohttp) is imported only when a
task runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk import BaseOperator

from airflow_provider_oos.links.oos import OosExecutionLink
from airflow_provider_oos.models import Template, is_final, is_successful
from airflow_provider_oos.template_rules import (
    normalize_template,
)
from airflow_provider_oos.waiting import (
    MAX_CONSECUTIVE_API_FAILURES,
    ProgressReporter,
    backoff_seconds,
    is_transient,
    resolve_event,
    settle,
    summarize,
    timeout_error,
    validate_on_paused,
    validate_poll_interval,
)

try:  # Airflow >= 3.3: the task_state_store lets a retry reconnect to the execution of a crashed try.
    from airflow.sdk import ResumableJobMixin as _ResumableBase

    HAS_TASK_STATE_STORE = True
except ImportError:  # Airflow 3.1/3.2

    class _ResumableBase:  # type: ignore[no-redef]
        """Airflow < 3.3 has no task_state_store: every try creates a new execution."""

        external_id_key: ClassVar[str] = "remote_job_id"
        durable = False

        def execute_resumable(self, context: Context) -> Any:
            external_id = self.submit_job(context)  # type: ignore[attr-defined]
            self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
            return self.get_job_result(external_id, context)  # type: ignore[attr-defined]

    HAS_TASK_STATE_STORE = False

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef]

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_oos.hooks.oos import OosHook
    from airflow_provider_oos.models import Execution


def _json_object(value: object, field: str) -> dict[str, Any]:
    if isinstance(value, str):  # a rendered template or JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"{field} is not valid JSON ({err}); pass a dict.") from None
    if not isinstance(value, dict):
        raise TypeError(f"{field} must be a JSON object (dict), got {type(value).__name__}.")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{field} must hold only JSON values (str, number, bool, list, dict): {err}"
        ) from None
    return value


def _check_wait_settings(poll_interval: object, timeout: object, on_paused: object) -> None:
    validate_poll_interval(poll_interval)
    validate_on_paused(on_paused)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ValueError(
            f"timeout must be a number of seconds greater than 0, or None to wait forever; got {timeout!r}."
        )


def _check_sources(template_ref: object, template_name: object, template: object) -> None:
    given = [name for name, value in (("template_ref", template_ref), ("template_name", template_name),
                                      ("template", template)) if value is not None]  # fmt: skip
    if len(given) != 1:
        raise ValueError(
            "Pass exactly one of template_ref (a tpl-… id), template_name (an existing template) or "
            f"template (inline); got {', '.join(given) if given else 'none'}."
        )


@dataclass(frozen=True)
class ExecutionRequest:
    """Validated, rendered input of OosCreateExecutionOperator."""

    template: Template | None
    template_ref: str | None
    template_name: str | None
    properties: dict[str, Any]
    description: str | None
    tags: dict[str, str]


def validate_execution_request(
    *,
    template_ref: object,
    template_name: object,
    template: object,
    properties: object,
    description: object,
    tags: object,
    poll_interval: object,
    timeout: object,
    on_paused: object,
) -> ExecutionRequest:
    """All local checks of OosCreateExecutionOperator; ValueError/TypeError naming the field and the fix."""
    _check_sources(template_ref, template_name, template)
    _check_wait_settings(poll_interval, timeout, on_paused)
    for field, text in (("template_ref", template_ref), ("template_name", template_name)):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError(f"{field} must be a non-empty string, got {text!r}.")
    if isinstance(template_ref, str) and not template_ref.startswith("tpl-"):
        raise ValueError(
            f"template_ref must be a template id starting with 'tpl-', got {template_ref!r}; "
            "to run a template by its name use template_name."
        )
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}.")
    tag_map = _json_object(tags if tags is not None else {}, "tags")
    for key, value in tag_map.items():
        if not key or not isinstance(value, str):
            raise TypeError(f"tags must map non-empty names to string values; fix tag {key!r}: {value!r}.")
    return ExecutionRequest(
        template=normalize_template(template) if template is not None else None,
        template_ref=template_ref.strip() if isinstance(template_ref, str) else None,
        template_name=template_name.strip() if isinstance(template_name, str) else None,
        properties=_json_object(properties if properties is not None else {}, "properties"),
        description=description,
        tags=dict(tag_map),
    )


def _airflow_tags(context: Context) -> dict[str, str]:
    """Tags that show in the OOS console where an execution came from."""
    ti = context["ti"]
    tags = {"airflow-dag": ti.dag_id, "airflow-run": ti.run_id, "airflow-task": ti.task_id}
    if getattr(ti, "map_index", -1) not in (-1, None):
        tags["airflow-map-index"] = str(ti.map_index)
    return tags


# --------------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------------


class OosCreateExecutionOperator(_ResumableBase, BaseOperator):  # type: ignore[misc]
    """Start an OOS execution and (by default) wait until it is final; return a small summary.

    Give exactly one template source: ``template_ref`` (a ``tpl-…`` id), ``template_name`` (an existing
    template, looked up by name) or ``template`` (inline: a ``Template``, a dict, or JSON text; a
    ``.json`` file path works through ``template_ext``).

    Order of work: create → push XCom ``execution_id`` and ``console_url`` at once → if waiting, check
    the state once (no deferral for an execution already final) → wait in the worker (``poll_interval``)
    or defer to :class:`~airflow_provider_oos.triggers.oos.OosExecutionTrigger` → return
    ``{"execution_id", "state", "console_url", "tasks": {step: {"state", "outputs"}}}``. With
    ``wait_for_completion=False`` the summary has the state seen right after create, without judging it.

    Outcomes: SUCCESS returns the summary. FAILED, CANCELED, ROLLBACK_* raise
    :class:`~airflow_provider_oos.exceptions.OosExecutionFailedError` naming the execution, the failing
    step, its reason and its log tail. This is deliberately *not* an ``AirflowFailException``: the
    task's own ``retries`` apply, and a retry starts a new execution (an OOS failure is often a
    transient cloud condition, and whether to retry is the DAG author's call). PAUSED: keep waiting
    with one warning and the console link (``on_paused="wait"``) or raise
    ``OosExecutionPausedError`` (``"fail"``). No final state within ``timeout`` seconds:
    ``OosExecutionTimeoutError`` with the last known state. Unknown states: keep waiting, logged once.

    Crash safety: on Airflow >= 3.3 the execution id is kept in the ``task_state_store``
    (``ResumableJobMixin``; ``durable=True`` by default, a 3.3-only argument), so a retry after a
    worker crash, a timeout, a pause (``on_paused="fail"``) or a lost API connection reconnects to the
    same execution while it is not final (or returns its result if it already succeeded) instead of
    creating a second one; a retry after a *failed* execution starts a new one. On Airflow 3.1/3.2
    there is no task_state_store: every try creates a new execution, so a worker crash mid-wait leaves
    the first execution running alongside the new one (use ``deferrable=True`` there: a deferred wait
    survives worker loss). OOS has no idempotency
    token, so the small window between "created" and "id stored" cannot be closed.

    OOS publishes no cancel call: killing the task leaves the execution running; ``on_kill`` says so
    and logs the console link where a person can stop it.
    """

    template_fields: Sequence[str] = (
        "template_ref",
        "template_name",
        "template",
        "properties",
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
        tag_with_airflow_context: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float | None = None,
        on_paused: str = "wait",
        oos_conn_id: str = "oos_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template_ref = template_ref
        self.template_name = template_name
        self.template = template
        self.properties = properties
        self.description = description
        self.tags = tags
        self.tag_with_airflow_context = tag_with_airflow_context
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.on_paused = on_paused
        self.oos_conn_id = oos_conn_id
        # Non-templated settings are checked now, so a DAG with a typo fails at parse time.
        _check_sources(template_ref, template_name, template)
        _check_wait_settings(poll_interval, timeout, on_paused)
        if not isinstance(oos_conn_id, str) or not oos_conn_id:
            raise ValueError(f"oos_conn_id must be a non-empty connection id, got {oos_conn_id!r}.")
        self._execution_id: str | None = None
        self._console_url: str | None = None
        self._result: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> OosHook:
        from airflow_provider_oos.hooks.oos import OosHook

        return OosHook(oos_conn_id=self.oos_conn_id)

    def _validated(self) -> ExecutionRequest:
        return validate_execution_request(
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

    def execute(self, context: Context) -> Any:
        self._request = self._validated()  # before any API call
        self._execution_id = self._console_url = None  # per-try state (an operator object may be reused)
        self._result = None
        return self.execute_resumable(context)

    # ---- ResumableJobMixin protocol ------------------------------------------------------------

    def submit_job(self, context: Context) -> str:
        request = self._request
        template: Template
        if request.template is not None:
            template = request.template
        elif request.template_name is not None:
            found = self.hook.get_template(request.template_name)
            self.log.info("Template %r is %s.", request.template_name, found.id)
            template = Template(ref=found.id, name=found.name or request.template_name)
        else:
            template = Template(ref=request.template_ref)
        tags = dict(request.tags)
        if self.tag_with_airflow_context:
            tags = {**_airflow_tags(context), **tags}
        execution_id = self.hook.create_execution(
            template,
            properties=request.properties,
            description=request.description,
            tags=tags,
        )
        self.log.info("Created OOS execution %s.", execution_id)
        self._announce(execution_id, context)
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
        console_url = self._announce(execution_id, context)
        if self.wait_for_completion:
            self._result = self._wait(execution_id, console_url)
        else:
            self._result = summarize(self.hook.get_execution(execution_id), console_url)
        return self._result

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        if self._result is None:  # a retry found the execution already succeeded
            execution_id = str(external_id)
            console_url = self._announce(execution_id, context)
            self._result = summarize(self.hook.get_execution(execution_id), console_url)
        return self._result

    # ---- waiting -----------------------------------------------------------------------------

    def _announce(self, execution_id: str, context: Context) -> str:
        """Push the id and console link right away (once per try), so the link works while it runs."""
        if self._execution_id == execution_id and self._console_url is not None:
            return self._console_url
        self._execution_id = execution_id
        self._console_url = console_url = self.hook.console_url(execution_id)
        context["ti"].xcom_push(key="execution_id", value=execution_id)
        context["ti"].xcom_push(key="console_url", value=console_url)
        self.log.info("OOS execution %s: %s", execution_id, console_url)
        return console_url

    def _defer(self, execution_id: str) -> NoReturn:
        from airflow_provider_oos.triggers.oos import OosExecutionTrigger

        deadline = time.time() + self.timeout if self.timeout is not None else None
        self.log.info("Deferring: the triggerer waits for OOS execution %s.", execution_id)
        self.defer(
            trigger=OosExecutionTrigger(
                execution_id=execution_id,
                oos_conn_id=self.oos_conn_id,
                poll_interval=float(self.poll_interval),
                deadline=deadline,
                on_paused=self.on_paused,
            ),
            method_name="execute_complete",
        )

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _wait(self, execution_id: str, console_url: str) -> dict[str, Any]:
        """Poll until final; the first successful look decides: final → no deferral, else defer if asked."""
        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        reporter = ProgressReporter(self.log, execution_id, console_url)
        last: Execution | None = None
        failures = 0
        while True:
            try:
                execution = self.hook.get_execution(execution_id)
            except Exception as err:
                failures += 1
                if not is_transient(err) or failures >= MAX_CONSECUTIVE_API_FAILURES:
                    raise
                self.log.warning("Could not read OOS execution %s (%s); trying again.", execution_id, err)
            else:
                failures = 0
                last = execution
                reporter.report(execution)
                summary = settle(execution, on_paused=self.on_paused, console_url=console_url)
                if summary is not None:
                    return summary
                if self.deferrable:
                    self._defer(execution_id)
            remaining = deadline - time.monotonic() if deadline is not None else None
            if remaining is not None and remaining <= 0:
                raise timeout_error(execution_id, self.timeout, last, console_url)
            delay = self.poll_interval if failures == 0 else backoff_seconds(self.poll_interval, failures)
            self._sleep(delay if remaining is None else min(delay, remaining))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: apply the same outcome rules to its one event."""
        return resolve_event(event, on_paused=self.on_paused, timeout=self.timeout)

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


def _is_subset(wanted: Any, actual: Any) -> bool:
    """True when every field the user set has the same value on the server (which adds defaults)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_is_subset(v, actual.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(_is_subset(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    return bool(wanted == actual)


class OosUpsertTemplateOperator(BaseOperator):
    """Create an OOS template, or update the one with the same name if it differs; returns its id.

    Idempotent: when the stored template already has every field given here, nothing is sent, so
    running it twice changes nothing the second time. Fields the server adds (defaults) are ignored
    in the comparison. Keeps templates in version control next to the DAGs that run them.
    """

    template_fields: Sequence[str] = ("template",)
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"template": "json"}

    def __init__(
        self,
        *,
        template: Template | dict[str, Any] | str,
        oos_conn_id: str = "oos_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template = template
        self.oos_conn_id = oos_conn_id
        if template is None:
            raise ValueError("template is required: a Template, a dict or JSON text with name and operators.")

    @cached_property
    def hook(self) -> OosHook:
        from airflow_provider_oos.hooks.oos import OosHook

        return OosHook(oos_conn_id=self.oos_conn_id)

    def execute(self, context: Context) -> str:
        from airflow_provider_oos.exceptions import OosNotFoundError

        # Matched by name: an id in the input (e.g. a template exported from the console) is ignored.
        wanted = {
            key: value for key, value in normalize_template(self.template).to_api().items() if key != "id"
        }
        desired = Template.model_validate(wanted)
        assert desired.name is not None  # checked by normalize_template
        try:
            existing = self.hook.get_template(desired.name)
        except OosNotFoundError:
            template_id = self.hook.create_template(desired)
            self.log.info("Created OOS template %r: %s.", desired.name, template_id)
            return template_id
        if existing.id is None:
            raise ValueError(f"OOS returned template {desired.name!r} without an id; cannot update it.")
        if _is_subset(wanted, existing.to_api()):
            self.log.info("OOS template %r (%s) is up to date; nothing to do.", desired.name, existing.id)
            return existing.id
        desired.id = existing.id
        self.hook.update_template(desired)
        self.log.info("Updated OOS template %r (%s).", desired.name, existing.id)
        return existing.id


class OosDeleteTemplateOperator(BaseOperator):
    """Delete an OOS template by id or by name; a missing template is fine unless ignore_missing=False."""

    template_fields: Sequence[str] = ("template_id", "template_name")

    def __init__(
        self,
        *,
        template_id: str | None = None,
        template_name: str | None = None,
        ignore_missing: bool = True,
        oos_conn_id: str = "oos_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template_id = template_id
        self.template_name = template_name
        self.ignore_missing = ignore_missing
        self.oos_conn_id = oos_conn_id
        self._check()

    def _check(self) -> None:
        if (self.template_id is None) == (self.template_name is None):
            raise ValueError("Pass exactly one of template_id (a tpl-… id) or template_name.")
        for field in ("template_id", "template_name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{field} must be a non-empty string, got {value!r}.")

    @cached_property
    def hook(self) -> OosHook:
        from airflow_provider_oos.hooks.oos import OosHook

        return OosHook(oos_conn_id=self.oos_conn_id)

    def execute(self, context: Context) -> str | None:
        from airflow_provider_oos.exceptions import OosNotFoundError

        self._check()  # templates are rendered now
        try:
            template_id = self.template_id or self.hook.get_template(str(self.template_name)).id
            if template_id is None:
                raise OosNotFoundError(f"template {self.template_name!r} has no id")
            self.hook.delete_template(template_id)
        except OosNotFoundError:
            if not self.ignore_missing:
                raise
            self.log.info(
                "OOS template %s does not exist; nothing to delete.", self.template_id or self.template_name
            )
            return None
        self.log.info("Deleted OOS template %s.", template_id)
        return template_id
