"""OosAsyncHook: the aiohttp side of the OOS API, for the trigger (import it from `hooks.oos`).

Runs the same calls as OosHook (`airflow_provider_oos.client.operations`) through the same transport
rules, on pooled sessions (`airflow_provider_oos.client.session_pool`). The hooks of one event loop share
one lookup of each connection for `CONFIG_TTL_SECONDS` (thousands of triggers, one lookup). Each
HTTP call writes one line through the hook's own logger; retry warnings go to the
`airflow_provider_oos.hooks.oos` logger, as the sync hook's do.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook
from tenacity import AsyncRetrying
from typing_extensions import Unpack

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client.answers import (
    JSON_CONTENT_TYPE,
    REQUEST_ID_HEADER,
    call_not_available,
    parse_response,
)
from airflow_provider_oos.client.auth import signed_headers
from airflow_provider_oos.client.connection import (
    DEFAULT_CONN_ID,
    OosConnectionConfig,
    parse_connection,
)
from airflow_provider_oos.client.connection_form import CONN_TYPE
from airflow_provider_oos.client.models import Execution, ExecutionPage, TaskPage
from airflow_provider_oos.client.operations import ApiCall, ExecutionFilters
from airflow_provider_oos.client.payloads import MAX_PAGE_SIZE, json_bytes
from airflow_provider_oos.client.retry import replaying_async, retry_settings
from airflow_provider_oos.client.routes import query_string, request_query
from airflow_provider_oos.client.session_pool import POOL
from airflow_provider_oos.client.transport import aiohttp_error, log_call
from airflow_provider_oos.exceptions import OosApiError

if TYPE_CHECKING:
    import aiohttp

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # aiohttp brings async-timeout on Python 3.10
    from async_timeout import timeout as _deadline

# The sync hook's logger: one place to look for retry warnings of either hook.
log = logging.getLogger("airflow_provider_oos.hooks.oos")
T = TypeVar("T")
# How long a parsed connection is shared by the hooks of one event loop: thousands of waiting
# triggers on one connection look it up once per TTL instead of once each; a changed
# connection reaches new triggers within the TTL.
CONFIG_TTL_SECONDS = 30.0
_Key = tuple[asyncio.AbstractEventLoop, str]
_configs: dict[_Key, tuple[float, asyncio.Future[OosConnectionConfig]]] = {}  # (started, lookup)


async def _lookup_config(conn_id: str) -> OosConnectionConfig:
    return parse_connection(await _aget_connection(conn_id))


async def shared_config(conn_id: str) -> OosConnectionConfig:
    """The parsed connection, one lookup per event loop and ``CONFIG_TTL_SECONDS``.

    A failed lookup is not kept: the next caller looks it up again.

    :param conn_id: the ``baidu_oos`` connection.
    :return: the parsed settings.
    :raises AirflowNotFoundException: no such connection.
    :raises ValueError: the connection is misconfigured (the message names the field).
    """
    loop = asyncio.get_running_loop()
    key = (loop, conn_id)
    entry = _configs.get(key)
    if entry is None or loop.time() - entry[0] >= CONFIG_TTL_SECONDS or _failed(entry[1]):
        for stale in [stale for stale in _configs if stale[0].is_closed()]:
            del _configs[stale]  # lookups of loops that ended
        entry = (loop.time(), loop.create_task(_lookup_config(conn_id)))
        _configs[key] = entry
    # shield: a cancelled trigger must not cancel the lookup other triggers wait for.
    return await asyncio.shield(entry[1])


def _failed(lookup: asyncio.Future[OosConnectionConfig]) -> bool:
    return lookup.done() and (lookup.cancelled() or lookup.exception() is not None)


@functools.lru_cache(maxsize=16)
def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    import aiohttp

    # Waiting for a free pooled connection is not a timeout: only connect and read are.
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


async def _aget_connection(conn_id: str) -> Any:
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async  # Airflow without the async lookup

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class OosAsyncHook(BaseHook):
    """The async side of the OOS API, for the trigger: an aiohttp session from the shared pool.

    No I/O in ``__init__``. Use it as ``async with OosAsyncHook(...) as hook:`` so the pooled session
    closes when its last user leaves; without ``async with``, call ``close_all_sessions()``.
    Errors are those of `OosHook`: `OosApiError` and its subclasses, ValueError for bad input.

    :param oos_conn_id: the ``baidu_oos`` connection to use.
    """

    conn_name_attr = "oos_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Baidu OOS (async)"

    def __init__(self, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = oos_conn_id
        self._config: OosConnectionConfig | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(oos_conn_id={self.oos_conn_id!r})"

    async def __aenter__(self) -> OosAsyncHook:
        POOL.acquire(self.oos_conn_id)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await POOL.release(self.oos_conn_id)

    async def get_config(self) -> OosConnectionConfig:
        """The parsed connection, shared by the hooks of this event loop (see `shared_config`).

        :return: the parsed settings.
        :raises AirflowNotFoundException: no such connection.
        :raises ValueError: the connection is misconfigured.
        """
        if self._config is None:
            self._config = await shared_config(self.oos_conn_id)
        return self._config

    async def get_execution(self, execution_id: str, *, with_log: bool = False) -> Execution:
        """One execution, with its tasks.

        :param execution_id: the execution (``d-…``).
        :param with_log: also fetch each task's log lines.
        :return: the execution.
        :raises OosNotFoundError: OOS has no such execution.
        :raises OosApiError: any other error answer or transport failure.
        """
        return await self.run(ops.get_execution(execution_id, with_log=with_log))

    async def list_executions(
        self, *, page_no: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Unpack[ExecutionFilters]
    ) -> ExecutionPage:
        """One page of the executions matching every filter given (OpenAPI only).

        :param page_no: the page, from 1.
        :param page_size: executions per page, from 1 to 100.
        :param filters: those of `OosHook.list_executions`.
        :return: the page.
        :raises OosCallNotAvailableError: the endpoint does not offer this call.
        :raises OosApiError: any other error answer or transport failure.
        """
        return await self.run(ops.list_executions(page_no=page_no, page_size=page_size, **filters))

    async def list_task_children(
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
        return await self.run(
            ops.list_task_children(execution_id, task_id, states=states, page_no=page_no, page_size=page_size)
        )

    async def run(self, call: ApiCall[T]) -> T:
        """Send one call (retried by the retry policy) and read its result.

        :param call: the call, from `airflow_provider_oos.client.operations`.
        :return: the call's result, read by ``call.read``.
        :raises OosCallNotAvailableError: the endpoint does not offer this call (404 in its path style).
        :raises OosApiError: any other error answer, an unreadable answer, or a transport failure.
        """
        config = await self.get_config()
        path = config.base_path + call.route.path
        url = config.endpoint + path + query_string(request_query(call.query, config.locale))
        data = json_bytes(call.body) if call.body is not None else None

        def send() -> Awaitable[Any]:
            return self._send_once(config, call, url, path, data)

        try:
            try:
                result: Any = await send()
            except Exception as first:  # tenacity only once an attempt failed: polls rarely fail
                retrying = AsyncRetrying(**retry_settings(config, call.route, log))
                result = await retrying(replaying_async(first, send))
        except OosApiError as exc:
            raise call_not_available(exc, call.route, config.base_path) from None
        return call.read(result, path)

    async def _send_once(
        self, config: OosConnectionConfig, call: ApiCall[Any], url: str, path: str, data: bytes | None
    ) -> Any:
        import aiohttp
        from yarl import URL

        method = call.route.method
        request_id = str(uuid.uuid4())
        query = request_query(call.query, config.locale) or {}
        headers = signed_headers(config.credentials, method, url, query)
        headers[REQUEST_ID_HEADER] = request_id
        if data is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        log_path = url[len(config.endpoint) :]
        started = time.monotonic()
        try:
            # sock_read bounds each read; the deadline (entered once the headers are in) bounds
            # the whole answer: a server that dribbles bytes would otherwise hold the call forever.
            async with (
                POOL.session(self.oos_conn_id).request(
                    method,
                    URL(url, encoded=True),
                    data=data,
                    headers=headers,
                    timeout=_client_timeout(config.timeout),
                ) as response,
                _deadline(config.timeout),
            ):
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = aiohttp_error(exc, method, path, request_id, config.timeout)
            log_call(self.log, method, log_path, None, request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        log_call(self.log, method, log_path, response.status, answered_id or request_id, started)
        return parse_response(
            response.status,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=method,
            path=path,
        )
