"""OosHook (sync, `requests`) and OosAsyncHook (aiohttp, for the trigger) over the OOS API.

Both hooks share the connection parsing (`airflow_provider_oos.connection`), the signing
(`airflow_provider_oos.auth`) and the transport rules: routes, answer parsing, error mapping and
retry policy (`airflow_provider_oos.transport`). Each call writes one log line through the hook's
logger; retry warnings go to this module's logger.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseHook
from tenacity import AsyncRetrying, Retrying

from airflow_provider_oos.auth import BceAuth, signed_headers
from airflow_provider_oos.connection import (
    CONN_TYPE,
    DEFAULT_BASE_PATH,
    DEFAULT_CONN_ID,
    OosConnectionConfig,
    connection_form_widgets,
    parse_connection,
    ui_field_behaviour,
)
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosConnectionError,
    OosNotFoundError,
)
from airflow_provider_oos.models import (
    Execution,
    OperatorPage,
    Tag,
    Template,
    TemplateCheck,
    TemplatePage,
)
from airflow_provider_oos.session_pool import POOL
from airflow_provider_oos.transport import (
    CHECK_TEMPLATE,
    CREATE_EXECUTION,
    CREATE_TEMPLATE,
    DELETE_TEMPLATE,
    GET_EXECUTION,
    GET_TEMPLATE,
    JSON_CONTENT_TYPE,
    LIST_OPERATORS,
    LIST_TEMPLATES,
    REQUEST_ID_HEADER,
    TEMPLATE_TYPES,
    UPDATE_TEMPLATE,
    Route,
    aiohttp_error,
    as_template,
    execution_from,
    json_bytes,
    log_call,
    page_body,
    parse_model,
    parse_response,
    query_string,
    read_body,
    requests_error,
    require_text,
    retry_settings,
    tags_payload,
    template_payload,
    user_agent,
)

if TYPE_CHECKING:
    import aiohttp

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # aiohttp brings async-timeout on Python 3.10
    from async_timeout import timeout as _deadline

log = logging.getLogger(__name__)


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
        tags: Sequence[Tag | Mapping[str, Any]] | Mapping[str, str] | None = None,
    ) -> str:
        """Start an execution of an existing (`ref`) or inline template; return its id (`d-…`).

        Sent exactly once unless the service provably never saw it: a read timeout or a 5xx
        raises instead of risking a second execution.
        """
        body: dict[str, Any] = {
            "template": self._execution_template(template),
            "properties": dict(properties or {}),
        }
        if description is not None:
            body["description"] = description
        body["tags"] = tags_payload(tags)
        return self._id_from(self._call(CREATE_EXECUTION, body=body), CREATE_EXECUTION)

    def get_execution(self, execution_id: str) -> Execution:
        execution_id = require_text(execution_id, "execution_id", "an id such as 'd-…'")
        return execution_from(self._call(GET_EXECUTION, query={"id": execution_id}), execution_id)

    def create_template(self, template: Template | Mapping[str, Any]) -> str:
        body = template_payload(template, inline_required=True)
        return self._id_from(self._call(CREATE_TEMPLATE, body=body), CREATE_TEMPLATE)

    def check_template(self, template: Template | Mapping[str, Any]) -> TemplateCheck:
        body = template_payload(template, inline_required=False)
        return parse_model(TemplateCheck, self._call(CHECK_TEMPLATE, body=body), CHECK_TEMPLATE)

    def update_template(self, template: Template | Mapping[str, Any]) -> None:
        body = template_payload(template, inline_required=True)
        if not body.get("id"):
            raise ValueError("template.id is required to update a template: take it from get_template()")
        self._call(UPDATE_TEMPLATE, body=body)

    def delete_template(self, template_id: str) -> None:
        template_id = require_text(template_id, "template_id", "an id such as 'tpl-…'")
        self._call(DELETE_TEMPLATE, query={"id": template_id})

    def get_template(self, name: str, template_type: str = "INDIVIDUAL") -> Template:
        name = require_text(name, "name", "the template's name")
        if template_type not in TEMPLATE_TYPES:
            raise ValueError(f"template_type must be one of {TEMPLATE_TYPES}, got {template_type!r}")
        result = self._call(GET_TEMPLATE, query={"name": name, "type": template_type})
        if result is None:
            raise OosNotFoundError(
                f"template {name!r} ({template_type}) not found",
                method=GET_TEMPLATE.method,
                path=DEFAULT_BASE_PATH + GET_TEMPLATE.path,
            )
        return parse_model(Template, result, GET_TEMPLATE)

    def list_templates(
        self,
        page_no: int = 1,
        page_size: int = 100,
        sort: str = "createTime",
        ascending: bool = False,
        name: str | None = None,
        template_type: str | None = None,
    ) -> TemplatePage:
        body = page_body(page_no, page_size, sort, ascending)
        if name is not None:
            body["name"] = name
        if template_type is not None:
            if template_type not in TEMPLATE_TYPES:
                raise ValueError(f"template_type must be one of {TEMPLATE_TYPES}, got {template_type!r}")
            body["type"] = template_type
        return parse_model(TemplatePage, self._call(LIST_TEMPLATES, body=body), LIST_TEMPLATES)

    def list_operators(
        self, page_no: int = 1, page_size: int = 100, sort: str = "createTime", ascending: bool = False
    ) -> OperatorPage:
        body = page_body(page_no, page_size, sort, ascending)
        return parse_model(OperatorPage, self._call(LIST_OPERATORS, body=body), LIST_OPERATORS)

    def console_url(self, execution_id: str) -> str:
        return self.config.console_url(execution_id)

    def test_connection(self) -> tuple[bool, str]:
        """One read-only call (list one action type); the message says what is wrong."""
        try:
            config = self.config
            page = parse_model(
                OperatorPage,
                self._call(LIST_OPERATORS, body=page_body(1, 1, "createTime", False), attempts=1),
                LIST_OPERATORS,
            )
        except ValueError as exc:
            return False, f"The connection is misconfigured: {exc}"
        except OosAuthError as exc:
            return False, (
                "OOS rejected the credentials: check the Access Key ID, the Secret Access Key "
                f"(and the STS token, if any) and the clock of this machine. {exc}"
            )
        except OosConnectionError as exc:
            if exc.tls:
                return False, (
                    f"TLS problem talking to {self.config.endpoint}: {exc}. Check the certificate, "
                    "or the scheme (https/http) the endpoint expects."
                )
            return False, f"Cannot reach the OOS endpoint {self.config.endpoint}: {exc}"
        except OosApiError as exc:
            return False, f"The OOS endpoint {self.config.endpoint} answered with an error: {exc}"
        visible = page.total_count if page.total_count is not None else len(page.operators)
        return True, (
            f"Connected to {config.endpoint} as {config.credentials.access_key_id}; "
            f"{visible} action types visible"
        )

    def _execution_template(self, template: Template | Mapping[str, Any]) -> dict[str, Any]:
        parsed = as_template(template)
        if parsed.ref:
            return parsed.to_api()  # an existing template; `name` travels along when given
        if not parsed.name or not parsed.operators:
            raise ValueError(
                "template: give either ref (the id of an existing template, plus its name) "
                "or name and operators (an inline template)"
            )
        return template_payload(parsed, inline_required=True)

    @staticmethod
    def _id_from(result: Any, route: Route) -> str:
        if isinstance(result, dict) and isinstance(result.get("id"), str) and result["id"]:
            return str(result["id"])
        raise OosApiError(
            "unexpected result: no 'id' in the answer",
            method=route.method,
            path=DEFAULT_BASE_PATH + route.path,
        )

    def _call(
        self,
        route: Route,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        attempts: int | None = None,
    ) -> Any:
        config = self.config
        url = config.api_url + route.path + query_string(query)
        data = json_bytes(body) if body is not None else None
        for attempt in Retrying(**retry_settings(config, route, log, attempts)):
            with attempt:
                return self._send_once(route, url, data)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send_once(self, route: Route, url: str, data: bytes | None) -> Any:
        request_id = str(uuid.uuid4())
        headers = {REQUEST_ID_HEADER: request_id}
        if data is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        log_path = url[len(self.config.endpoint) :]
        started = time.monotonic()
        try:
            response = self.session.request(
                route.method, url, data=data, headers=headers, timeout=self.config.timeout, stream=True
            )
            body = read_body(response, time.monotonic() + self.config.timeout)
        except requests.RequestException as exc:
            error = requests_error(exc, route, log_path, request_id, self.config.timeout)
            log_call(self.log, logging.WARNING, route.method, log_path, "no answer", request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        log_call(
            self.log,
            level,
            route.method,
            log_path,
            response.status_code,
            answered_id or request_id,
            started,
        )
        return parse_response(
            response.status_code,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=route.method,
            path=DEFAULT_BASE_PATH + route.path,
        )


async def _aget_connection(conn_id: str) -> Any:
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async  # Airflow without the async lookup

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class OosAsyncHook(BaseHook):
    """The async side of the OOS API, for the trigger: an aiohttp session from the shared pool.

    No I/O in `__init__`. Use it as `async with OosAsyncHook(...) as hook:` so the pooled session
    closes when its last user leaves; without `async with`, call `close_all_sessions()`.

    :param oos_conn_id: the `baidu_oos` connection to use.
    """

    conn_name_attr = "oos_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Baidu OOS (async)"

    def __init__(self, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = oos_conn_id
        self._config: OosConnectionConfig | None = None
        self._timeout: aiohttp.ClientTimeout | None = None
        # One AsyncRetrying per route, reused by every poll: keeps per-call CPU low.
        self._retrying: dict[Route, AsyncRetrying] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(oos_conn_id={self.oos_conn_id!r})"

    async def __aenter__(self) -> OosAsyncHook:
        POOL.acquire(self.oos_conn_id)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await POOL.release(self.oos_conn_id)

    async def get_config(self) -> OosConnectionConfig:
        """The parsed connection, looked up (asynchronously) once per hook."""
        if self._config is None:
            self._config = parse_connection(await _aget_connection(self.oos_conn_id))
        return self._config

    async def get_execution(self, execution_id: str) -> Execution:
        """The execution `execution_id` (`d-…`); OosNotFoundError when OOS does not know it."""
        execution_id = require_text(execution_id, "execution_id", "an id such as 'd-…'")
        result = await self._call(GET_EXECUTION, {"id": execution_id})
        return execution_from(result, execution_id)

    async def _call(self, route: Route, query: Mapping[str, str]) -> Any:
        config = await self.get_config()
        url = config.api_url + route.path + query_string(query)
        retrying = self._retrying.get(route)
        if retrying is None:
            retrying = self._retrying[route] = AsyncRetrying(**retry_settings(config, route, log))
        # Calling (not iterating) a Retrying keeps the attempt state per call, so one instance
        # serves concurrent calls.
        return await retrying(self._send_once, config, route, url, query)

    async def _send_once(
        self, config: OosConnectionConfig, route: Route, url: str, query: Mapping[str, str]
    ) -> Any:
        import aiohttp
        from yarl import URL

        if self._timeout is None:
            # Waiting for a free pooled connection is not a timeout: only connect and read are.
            self._timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=config.timeout, sock_read=config.timeout
            )
        request_id = str(uuid.uuid4())
        headers = signed_headers(config.credentials, route.method, url, query)
        headers[REQUEST_ID_HEADER] = request_id
        log_path = url[len(config.endpoint) :]
        started = time.monotonic()
        try:
            # sock_read bounds each read; the deadline (entered once the headers are in) bounds
            # the whole answer: a server that dribbles bytes would otherwise hold the call forever.
            async with (
                POOL.session(self.oos_conn_id).request(
                    route.method, URL(url, encoded=True), headers=headers, timeout=self._timeout
                ) as response,
                _deadline(config.timeout),
            ):
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = aiohttp_error(exc, route, request_id, config.timeout)
            log_call(self.log, logging.WARNING, route.method, log_path, "no answer", request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        # Polls are many: a good answer is a debug line here (the sync hook's calls are few).
        level = logging.DEBUG if response.status < 400 else logging.WARNING
        log_call(self.log, level, route.method, log_path, response.status, answered_id or request_id, started)
        return parse_response(
            response.status,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=route.method,
            path=DEFAULT_BASE_PATH + route.path,
        )
