"""OosHook (sync, ``requests``) and OosAsyncHook (aiohttp, for the trigger) over the OOS API.

Both hooks run the same calls (`airflow_provider_oos.client.operations`: what each published operation
sends and how its answer is read) through the same transport rules (`airflow_provider_oos.client.transport`:
answer parsing, error mapping, retry policy), on the connection parsed by
`airflow_provider_oos.client.connection`. Each HTTP call writes one line through the hook's own logger;
retry warnings go to this module's logger. OosAsyncHook lives in `oos_async` and is imported
from here, like OosHook.

Every call raises `OosApiError` or a subclass when OOS answers with an error (`OosNotFoundError`,
`OosAuthError`, ...) or cannot be reached (`OosConnectionError`), and ValueError or TypeError,
before any request, for bad input.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.sdk import BaseHook
from tenacity import Retrying
from typing_extensions import Unpack

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client import payloads
from airflow_provider_oos.client.answers import (
    JSON_CONTENT_TYPE,
    REQUEST_ID_HEADER,
    call_not_available,
    parse_response,
)
from airflow_provider_oos.client.auth import BceAuth
from airflow_provider_oos.client.connection import (
    DEFAULT_CONN_ID,
    OosConnectionConfig,
    connection_form_widgets,
    parse_connection,
    ui_field_behaviour,
)
from airflow_provider_oos.client.connection_form import CONN_TYPE
from airflow_provider_oos.client.models import (
    Execution,
    ExecutionPage,
    OperatorPage,
    Task,
    TaskPage,
    Template,
    TemplateCheck,
    TemplatePage,
)
from airflow_provider_oos.client.operations import ApiCall, ExecutionFilters
from airflow_provider_oos.client.payloads import DEFAULT_TEMPLATE_TYPE, MAX_PAGE_SIZE, TagsArg
from airflow_provider_oos.client.retry import replaying, retry_settings
from airflow_provider_oos.client.routes import Route, query_string, request_query
from airflow_provider_oos.client.session_pool import close_all_sessions
from airflow_provider_oos.client.transport import log_call, read_body, requests_error, user_agent
from airflow_provider_oos.exceptions import OosApiError
from airflow_provider_oos.hooks.connection_test import describe_probe
from airflow_provider_oos.hooks.create_token import CreateRecovery
from airflow_provider_oos.hooks.oos_async import OosAsyncHook

__all__ = ["OosAsyncHook", "OosHook", "close_all_sessions"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class OosHook(BaseHook):
    """Talks to Baidu AI Cloud OOS over one keep-alive ``requests.Session``.

    No I/O in ``__init__``: the connection is looked up on first use.

    :param oos_conn_id: the ``baidu_oos`` connection to use.
    """

    conn_name_attr = "oos_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Baidu OOS"

    def __init__(self, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = oos_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(oos_conn_id={self.oos_conn_id!r})"

    @cached_property
    def config(self) -> OosConnectionConfig:
        """The connection, looked up and parsed once.

        :return: the parsed settings (endpoint, credentials, timeouts, retries).
        :raises AirflowNotFoundException: no such connection.
        :raises ValueError: the connection is misconfigured (the message names the field).
        """
        return parse_connection(self.get_connection(self.oos_conn_id))

    @cached_property
    def session(self) -> requests.Session:
        """The keep-alive session, signing every request (``bce-auth-v1``).

        :return: the session, created on first use.
        :raises ValueError: the connection is misconfigured.
        """
        session = requests.Session()
        session.auth = BceAuth(self.config.credentials)  # signs every attempt afresh
        session.headers["User-Agent"] = user_agent()
        # Read the proxy and CA-bundle environment once, not on every request: with trust_env
        # requests rescans os.environ per call (about a third of a poll's client CPU in Airflow).
        settings = session.merge_environment_settings(self.config.endpoint, {}, None, None, None)
        session.proxies.update(settings["proxies"])
        session.verify = settings["verify"]
        session.trust_env = False
        return session

    def get_conn(self) -> requests.Session:
        """Airflow's hook interface: the same as `session`.

        :return: the signing ``requests.Session``.
        :raises ValueError: the connection is misconfigured.
        """
        return self.session

    def close(self) -> None:
        """Close the session, if one was opened; the next call opens a new one."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow < 3.2; newer read ``conn-fields``).

        :return: the form widgets by field name.
        """
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels, placeholders and hidden fields of the connection form.

        :return: Airflow's ``hidden_fields`` / ``relabeling`` / ``placeholders`` mapping.
        """
        return ui_field_behaviour()

    def create_execution(
        self,
        template: Template | Mapping[str, Any],
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: TagsArg = None,
        *,
        parallelism: int | None = None,
        manually: bool | None = None,
    ) -> str:
        """Start an execution of an existing (``ref``) or inline template.

        Never resent once it may have reached the service. Each create carries a unique create
        token as an execution tag; when its outcome is unknown (read timeout, dropped connection,
        5xx) the hook looks the token up in the template's recent executions (see `create_token`).

        :param template: ``{"ref": "tpl-…", "name": ...}``, or an inline template (``name``, ``operators``).
        :param properties: the template's parameters.
        :param description: the execution's description.
        :param tags: execution tags: a dict, or a list of ``{"tagKey": ..., "tagValue": ...}``.
        :param parallelism: how many loop iterations OOS runs at once; sent only when given.
        :param manually: whether each step waits for a person; sent only when given.
        :return: the new execution's id (``d-…``).
        :raises OosCreateOutcomeUnknownError: the create got no usable answer and its token was not found.
        :raises OosApiError: OOS refused the create.
        :raises ValueError: bad input, named, before any request.
        """
        return CreateRecovery(self).create(
            template, properties, description, tags, parallelism=parallelism, manually=manually
        )

    def get_execution(self, execution_id: str, *, with_log: bool = False) -> Execution:
        """One execution, with its tasks.

        :param execution_id: the execution (``d-…``).
        :param with_log: also fetch each task's log lines.
        :return: the execution.
        :raises OosNotFoundError: OOS has no such execution.
        :raises OosApiError: any other error answer or transport failure.
        """
        return self.run(ops.get_execution(execution_id, with_log=with_log))

    def list_executions(
        self, *, page_no: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Unpack[ExecutionFilters]
    ) -> ExecutionPage:
        """One page of the executions matching every filter given (OpenAPI only).

        :param page_no: the page, from 1.
        :param page_size: executions per page, from 1 to 100.
        :param filters: ``template_name``, ``state``, ``trigger``, ``cron_execution_name``,
            ``event_execution_name``, ``start_time``, ``end_time`` (epoch ms or aware datetimes),
            ``sort`` (``startTime`` or ``endTime``), ``ascending``.
        :return: the page.
        :raises OosCallNotAvailableError: the endpoint does not offer this call.
        :raises OosApiError: any other error answer or transport failure.
        :raises ValueError: a filter outside the published values, before any request.
        """
        return self.run(ops.list_executions(page_no=page_no, page_size=page_size, **filters))

    def iter_executions(
        self, *, page_size: int = MAX_PAGE_SIZE, **filters: Unpack[ExecutionFilters]
    ) -> Iterator[Execution]:
        """Every execution matching the filters, page after page (OpenAPI only).

        :param page_size: executions per request, from 1 to 100.
        :param filters: as for `list_executions`.
        :return: an iterator over the executions; each page is fetched when reached.
        :raises OosCallNotAvailableError: the endpoint does not offer this call.
        :raises OosApiError: any other error answer or transport failure.
        :raises ValueError: a bad page size or filter, before any request.
        """
        payloads.page_body(1, page_size)  # a bad page size fails before any call
        page_no, seen = 1, 0
        while True:
            page = self.list_executions(page_no=page_no, page_size=page_size, **filters)
            yield from page.executions
            seen += len(page.executions)
            total = page.total_count
            if (
                not page.executions
                or len(page.executions) < page_size
                or (total is not None and seen >= total)
            ):
                return
            page_no += 1

    def get_task(self, dag_id: str, task_id: str, *, ignore_children: bool = False) -> Task:
        """One task of an execution (OpenAPI only).

        :param dag_id: the execution id (``d-…``), as the API names it.
        :param task_id: the task (``t-…``).
        :param ignore_children: leave out the task's children (loop iterations).
        :return: the task.
        :raises OosNotFoundError: OOS has no such task.
        :raises OosCallNotAvailableError: the endpoint does not offer this call.
        :raises OosApiError: any other error answer or transport failure.
        """
        return self.run(ops.get_task(dag_id, task_id, ignore_children=ignore_children))

    def list_task_children(
        self,
        execution_id: str,
        task_id: str,
        *,
        states: Sequence[str] | None = None,
        page_no: int = 1,
        page_size: int = MAX_PAGE_SIZE,
    ) -> TaskPage:
        """One page of a task's children, its loop iterations (OpenAPI only).

        :param execution_id: the execution (``d-…``).
        :param task_id: the parent task (``t-…``).
        :param states: only children in these states, e.g. ``["FAILED"]``.
        :param page_no: the page, from 1.
        :param page_size: children per page, from 1 to 100.
        :return: the page.
        :raises OosCallNotAvailableError: the endpoint does not offer this call.
        :raises OosApiError: any other error answer or transport failure.
        """
        return self.run(
            ops.list_task_children(execution_id, task_id, states=states, page_no=page_no, page_size=page_size)
        )

    def create_template(self, template: Template | Mapping[str, Any]) -> str:
        """Store a new template, checked by the client's template rules first.

        :param template: the template (``name`` and ``operators``), a `Template` or a dict.
        :return: the new template's id (``tpl-…``).
        :raises OosApiError: OOS refused it (e.g. the name is taken).
        :raises ValueError: the template breaks a rule, named, before any request.
        """
        return self.run(ops.create_template(template))

    def check_template(self, template: Template | Mapping[str, Any]) -> TemplateCheck:
        """The service's verdict on a template, sent as given.

        An answer ``success=false`` with HTTP 2xx is a verdict too: invalid, its ``msg`` the reason.

        :param template: the template to check.
        :return: valid or not, and why.
        :raises OosApiError: an error answer other than a verdict, or a transport failure.
        """
        call = ops.check_template(template)
        try:
            return self.run(call)
        except OosApiError as exc:
            if type(exc) is OosApiError and exc.status is not None and 200 <= exc.status < 300:
                return TemplateCheck(is_valid=False, reason=exc.message)
            raise

    def update_template(self, template: Template | Mapping[str, Any]) -> None:
        """Replace a stored template, found by its ``id``.

        :param template: the whole new template, with the ``id`` from `get_template`.
        :raises OosNotFoundError: OOS has no template with that id.
        :raises OosApiError: any other error answer or transport failure.
        :raises ValueError: no ``id``, or the template breaks a rule, before any request.
        """
        self.run(ops.update_template(template))

    def delete_template(self, template_id: str) -> None:
        """Delete a stored template.

        :param template_id: the template (``tpl-…``).
        :raises OosApiError: an error answer (e.g. not found) or a transport failure.
        :raises ValueError: a blank id, before any request.
        """
        self.run(ops.delete_template(template_id))

    def get_template(self, name: str, template_type: str = DEFAULT_TEMPLATE_TYPE) -> Template:
        """One template, by name.

        :param name: the template's name.
        :param template_type: ``INDIVIDUAL`` (yours) or ``GLOBAL`` (Baidu's public templates).
        :return: the template.
        :raises OosNotFoundError: OOS has no such template.
        :raises OosApiError: any other error answer or transport failure.
        """
        return self.run(ops.get_template(name, template_type))

    def list_templates(
        self,
        page_no: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        sort: str = "createTime",
        ascending: bool = False,
        name: str | None = None,
        template_type: str | None = None,
    ) -> TemplatePage:
        """One page of templates.

        :param page_no: the page, from 1.
        :param page_size: templates per page, from 1 to 100.
        :param sort: the field to sort by.
        :param ascending: sort order.
        :param name: only templates whose name matches.
        :param template_type: only ``INDIVIDUAL`` or only ``GLOBAL`` templates.
        :return: the page.
        :raises OosApiError: an error answer or a transport failure.
        """
        return self.run(ops.list_templates(page_no, page_size, sort, ascending, name, template_type))

    def list_operators(
        self,
        page_no: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        sort: str = "createTime",
        ascending: bool = False,
        *,
        name: str | None = None,
        api_version: str = "v1",
    ) -> OperatorPage:
        """One page of the action types the service offers.

        :param page_no: the page, from 1.
        :param page_size: action types per page, from 1 to 100.
        :param sort: the field to sort by.
        :param ascending: sort order.
        :param name: only this action type, e.g. ``BCE::Agent::ExecuteShell``.
        :param api_version: ``v1`` (the list older SDKs call) or ``v2`` (OpenAPI).
        :return: the page.
        :raises OosApiError: an error answer or a transport failure.
        """
        return self.run(
            ops.list_operators(page_no, page_size, sort, ascending, name=name, api_version=api_version)
        )

    def console_url(self, execution_id: str) -> str:
        """Where a person sees the execution: the connection's ``console_url`` template, filled in.

        :param execution_id: the execution (``d-…``).
        :return: the console address.
        :raises ValueError: the connection is misconfigured.
        """
        return self.config.console_url(execution_id)

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button: list one action type in the configured path style.

        When that answers 404 the other style is probed too, and the message names the ``base_path``
        setting that works (see `connection_test`). Never raises: every failure is a message.

        :return: ``(ok, message)``; the message says what is wrong and what to fix.
        """
        return describe_probe(self)

    def run(self, call: ApiCall[T], *, attempts: int | None = None, base_path: str | None = None) -> T:
        """Send one call (retried by the retry policy) and read its result.

        :param call: the call, from `airflow_provider_oos.client.operations`.
        :param attempts: at most this many attempts instead of the connection's ``max_retries`` + 1.
        :param base_path: another base path than the connection's (the connection test probes both).
        :return: the call's result, read by ``call.read``.
        :raises OosCallNotAvailableError: the endpoint does not offer this call (404 in its path style).
        :raises OosApiError: any other error answer, an unreadable answer, or a transport failure.
        """
        config = self.config
        base = config.base_path if base_path is None else base_path
        path = base + call.route.path
        url = config.endpoint + path + query_string(request_query(call.query, config.locale))
        data = payloads.json_bytes(call.body) if call.body is not None else None

        def send() -> Any:
            return self._send_once(call.route, url, path, data)

        try:
            try:
                result = send()
            except Exception as first:  # tenacity only once an attempt failed: most calls do not
                retrying = Retrying(**retry_settings(config, call.route, log, attempts))
                result = retrying(replaying(first, send))
        except OosApiError as exc:
            raise call_not_available(exc, call.route, base) from None
        return call.read(result, path)

    def _send_once(self, route: Route, url: str, path: str, data: bytes | None) -> Any:
        request_id = str(uuid.uuid4())
        headers = {REQUEST_ID_HEADER: request_id}
        if data is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        log_path = url[len(self.config.endpoint) :]
        started = time.monotonic()
        try:
            # Prepared here and sent by the session (its pool, auth, proxies, TLS settings):
            # Session.request would also merge cookies, hooks and settings on every call, which
            # is a quarter of the hook's CPU and none of which this client uses.
            request = requests.PreparedRequest()
            request.prepare(
                method=route.method,
                url=url,
                headers={**self.session.headers, **headers},
                data=data,
                auth=self.session.auth,
            )
            response = self.session.send(request, timeout=self.config.timeout, stream=True)
            body = read_body(response, time.monotonic() + self.config.timeout)
        except requests.RequestException as exc:
            error = requests_error(exc, route.method, path, request_id, self.config.timeout)
            log_call(self.log, route.method, log_path, None, request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        # DEBUG for a good answer: a wait polls every few seconds, its task log shows progress lines.
        log_call(self.log, route.method, log_path, response.status_code, answered_id or request_id, started)
        return parse_response(
            response.status_code,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=route.method,
            path=path,
        )
