"""OosHook (sync, `requests`) and OosAsyncHook (aiohttp, for the trigger) over the OOS API.

Both hooks run the same calls (`airflow_provider_oos.client.operations`: what each published operation
sends and how its answer is read) through the same transport rules (`airflow_provider_oos.client.transport`:
answer parsing, error mapping, retry policy), on the connection parsed by
`airflow_provider_oos.client.connection`. Each HTTP call writes one line through the hook's own logger;
retry warnings go to this module's logger. OosAsyncHook lives in `oos_async` and is imported
from here, like OosHook.
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
from airflow_provider_oos.client.operations import ApiCall, ExecutionFilters, TagsArg
from airflow_provider_oos.client.retry import replaying, retry_settings
from airflow_provider_oos.client.routes import Route, query_string
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
    """Talks to Baidu AI Cloud OOS over one keep-alive `requests.Session`.

    No I/O in `__init__`: the connection is looked up on first use.

    :param oos_conn_id: the `baidu_oos` connection to use.
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
        return parse_connection(self.get_connection(self.oos_conn_id))

    @cached_property
    def session(self) -> requests.Session:
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
        return self.session

    def close(self) -> None:
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow < 3.2; newer read `conn-fields`)."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
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
        """Start an execution of an existing (`ref`) or inline template; return its id (`d-…`).

        Never resent once it may have reached the service. Each create carries a unique create
        token as an execution tag; when its outcome is unknown (read timeout, dropped connection,
        5xx) the hook looks the token up in the template's recent executions and returns the id
        found, or raises OosCreateOutcomeUnknownError naming the token.
        """
        return CreateRecovery(self).create(
            template, properties, description, tags, parallelism=parallelism, manually=manually
        )

    def get_execution(self, execution_id: str, *, with_log: bool = False) -> Execution:
        """The execution `execution_id` (`d-…`); task logs only when `with_log` is True."""
        return self.run(ops.get_execution(execution_id, with_log=with_log))

    def list_executions(
        self, *, page_no: int = 1, page_size: int = ops.MAX_PAGE_SIZE, **filters: Unpack[ExecutionFilters]
    ) -> ExecutionPage:
        """One page of executions matching every filter given: `template_name`, `state`, `trigger`,
        `cron_execution_name`, `event_execution_name`, `start_time`, `end_time` (epoch ms or aware
        datetimes), `sort` (`startTime`/`endTime`), `ascending`. OpenAPI-only: raises
        OosCallNotAvailableError where the endpoint does not offer it."""
        return self.run(ops.list_executions(page_no=page_no, page_size=page_size, **filters))

    def iter_executions(
        self, *, page_size: int = ops.MAX_PAGE_SIZE, **filters: Unpack[ExecutionFilters]
    ) -> Iterator[Execution]:
        """Every execution matching the filters of `list_executions`, page after page."""
        ops.page_body(1, page_size)  # a bad page size fails before any call
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
        """One task (`dag_id` is the execution id). OpenAPI-only, like `list_executions`."""
        return self.run(ops.get_task(dag_id, task_id, ignore_children=ignore_children))

    def list_task_children(
        self,
        execution_id: str,
        task_id: str,
        *,
        states: Sequence[str] | None = None,
        page_no: int = 1,
        page_size: int = ops.MAX_PAGE_SIZE,
    ) -> TaskPage:
        """One page of a task's children (its loop iterations). OpenAPI-only."""
        return self.run(
            ops.list_task_children(execution_id, task_id, states=states, page_no=page_no, page_size=page_size)
        )

    def create_template(self, template: Template | Mapping[str, Any]) -> str:
        return self.run(ops.create_template(template))

    def check_template(self, template: Template | Mapping[str, Any]) -> TemplateCheck:
        """The service's verdict on a template. An answer `success=false` (HTTP 2xx) is a verdict too:
        invalid, with its `msg` as the reason."""
        call = ops.check_template(template)
        try:
            return self.run(call)
        except OosApiError as exc:
            if type(exc) is OosApiError and exc.status is not None and 200 <= exc.status < 300:
                return TemplateCheck(is_valid=False, reason=exc.message)
            raise

    def update_template(self, template: Template | Mapping[str, Any]) -> None:
        self.run(ops.update_template(template))

    def delete_template(self, template_id: str) -> None:
        self.run(ops.delete_template(template_id))

    def get_template(self, name: str, template_type: str = "INDIVIDUAL") -> Template:
        return self.run(ops.get_template(name, template_type))

    def list_templates(
        self,
        page_no: int = 1,
        page_size: int = ops.MAX_PAGE_SIZE,
        sort: str = "createTime",
        ascending: bool = False,
        name: str | None = None,
        template_type: str | None = None,
    ) -> TemplatePage:
        return self.run(ops.list_templates(page_no, page_size, sort, ascending, name, template_type))

    def list_operators(
        self,
        page_no: int = 1,
        page_size: int = ops.MAX_PAGE_SIZE,
        sort: str = "createTime",
        ascending: bool = False,
        *,
        name: str | None = None,
        api_version: str = "v1",
    ) -> OperatorPage:
        """The action types the service offers, from the v1 (older SDKs) or v2 (OpenAPI) list."""
        return self.run(
            ops.list_operators(page_no, page_size, sort, ascending, name=name, api_version=api_version)
        )

    def console_url(self, execution_id: str) -> str:
        return self.config.console_url(execution_id)

    def test_connection(self) -> tuple[bool, str]:
        """List one action type in the configured path style; when that answers 404, probe the other
        style too and name the `base_path` setting that works. The message says what is wrong."""
        return describe_probe(self)

    def run(self, call: ApiCall[T], *, attempts: int | None = None, base_path: str | None = None) -> T:
        """Send one call (retried by the retry policy) and read its result.

        :param call: the call, from `airflow_provider_oos.client.operations`.
        :param attempts: at most this many attempts instead of the connection's `max_retries` + 1.
        :param base_path: another base path than the connection's (the connection test probes both).
        """
        config = self.config
        base = config.base_path if base_path is None else base_path
        path = base + call.route.path
        url = config.endpoint + path + query_string(call.query)
        data = ops.json_bytes(call.body) if call.body is not None else None

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
            log_call(self.log, logging.WARNING, route.method, log_path, "no answer", request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        log_call(
            self.log, level, route.method, log_path, response.status_code, answered_id or request_id, started
        )
        return parse_response(
            response.status_code,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=route.method,
            path=path,
        )
