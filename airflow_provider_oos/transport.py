"""How the hooks talk to OOS, shared by the sync and the async hook.

The routes of the published operations, the mapping of every answer shape
to a result or an exception (`parse_response`), the one error classification (`is_transient`)
and the retry policy built on it (`should_retry`, `retry_settings`).

Retry policy. Read-only calls retry on transient errors: connection errors, timeouts, 429,
500/502/503/504 and `RequestExpired`. Calls that create or change something retry only when the
request provably never reached the service (DNS failure, refused connection, connect timeout) or
was rejected before processing (429, `RequestExpired`, one `SignatureDoesNotMatch`: every attempt
is signed afresh). Never after a read timeout or a 5xx: OOS has no idempotency token, a resent
create-execution could start the same maintenance twice.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import RetryCallState, stop_after_attempt, wait_exponential, wait_random

from airflow_provider_oos import __version__
from airflow_provider_oos.auth import encode
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosCallNotAvailableError,
    OosConnectionError,
    OosNotFoundError,
    OosThrottledError,
)

if TYPE_CHECKING:
    import requests

    from airflow_provider_oos.connection import OosConnectionConfig

T = TypeVar("T")
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "x-bce-request-id"
TEMPLATE_TYPES = ("INDIVIDUAL", "GLOBAL")

AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "RequestExpired",
        "InvalidHTTPAuthHeader",
        "InvalidSessionToken",
        "InvalidSecurityToken",
        "AccessDeniedException",
    }
)
THROTTLE_CODES = frozenset({"TooManyRequests", "Throttling", "ThrottlingException", "RequestLimitExceeded"})
NOT_FOUND_CODES = frozenset({"NotFound", "ResourceNotFound", "NoSuchTemplate", "NoSuchExecution"})
# 501 and 505 say the server will never do it: not transient.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Route:
    """Where one published operation is sent.

    :param name: what the call does, for messages ("list executions").
    :param method: HTTP method.
    :param path: path below the connection's base path, e.g. `/v2/execution`.
    :param changes_state: whether the call creates or changes something (see the retry policy).
    :param openapi_only: published only in the OpenAPI metadata: a 404 means the endpoint
        does not offer the call (OosCallNotAvailableError), not that the work failed.
    """

    name: str
    method: str
    path: str
    changes_state: bool = False
    openapi_only: bool = False


CREATE_TEMPLATE = Route("create template", "POST", "/v2/template", changes_state=True)
CHECK_TEMPLATE = Route("check template", "POST", "/v2/template/check")
UPDATE_TEMPLATE = Route("update template", "PUT", "/v2/template", changes_state=True)
DELETE_TEMPLATE = Route("delete template", "DELETE", "/v2/template", changes_state=True)
GET_TEMPLATE = Route("get template", "GET", "/v2/template")
LIST_TEMPLATES = Route("list templates", "POST", "/v2/template/list")
LIST_OPERATORS = Route("list operators", "POST", "/v1/operator/list")
LIST_OPERATORS_V2 = Route("list operators (v2)", "POST", "/v2/operator/list")
CREATE_EXECUTION = Route("create execution", "POST", "/v2/execution", changes_state=True)
GET_EXECUTION = Route("get execution", "GET", "/v2/execution")
LIST_EXECUTIONS = Route("list executions", "POST", "/v2/execution/list", openapi_only=True)
GET_TASK = Route("get task", "GET", "/v2/task", openapi_only=True)
LIST_TASK_CHILDREN = Route("list task children", "POST", "/v2/task/children/list", openapi_only=True)


def query_string(query: Mapping[str, str] | None) -> str:
    """Encode a query exactly as it is signed (`%20`, not `+`), so server and signer agree."""
    if not query:
        return ""
    return "?" + "&".join(f"{encode(key)}={encode(value)}" for key, value in query.items())


def parse_response(
    status: int,
    body: bytes,
    *,
    request_id: str | None,
    method: str,
    path: str,
    sent_request_id: str | None = None,
) -> Any:
    """Return the envelope's `result`, or raise the OosApiError subclass this answer means.

    Handles every shape in oos-api.md: 2xx + success, 2xx + `success=false`, non-2xx + BCE
    error body, non-2xx + OOS envelope, non-JSON (an HTML page from a proxy), empty and
    truncated bodies. The error's request id is the response header's, else the body's
    `requestId`, else the one we sent (`sent_request_id`).
    """
    text = body.strip()
    document: Any = None
    if text:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
    if isinstance(document, dict):
        if not request_id:
            body_id = document.get("requestId")
            request_id = body_id if isinstance(body_id, str) and body_id else sent_request_id
        if "success" in document:  # the OOS envelope
            if 200 <= status < 300 and document.get("success") is True:
                return document.get("result")
            message = document.get("msg") or document.get("message") or "the call did not succeed"
            raise _api_error(str(message), status, document.get("code"), request_id, method, path)
        if "code" in document or "message" in document:  # the common BCE error body
            message = document.get("message") or document.get("msg") or "error without a message"
            raise _api_error(str(message), status, document.get("code"), request_id, method, path)
        shape = "JSON object without the OOS envelope"
    elif document is not None:
        shape = f"JSON {type(document).__name__} instead of the OOS envelope"
    elif text.startswith((b"{", b"[")):
        shape = f"truncated or invalid JSON ({len(body)} bytes)"
    elif text:
        snippet = " ".join(text[:120].decode("utf-8", "replace").split())
        shape = f"a non-JSON body: {snippet!r}"
    else:
        shape = "an empty body"
    request_id = request_id or sent_request_id
    raise _api_error(f"unexpected answer: {shape}", status, None, request_id, method, path)


def _api_error(
    message: str, status: int, code: Any, request_id: str | None, method: str, path: str
) -> OosApiError:
    code_text = str(code) if code is not None else ""
    kind: type[OosApiError] = OosApiError
    if status in (401, 403) or code_text in AUTH_CODES:
        kind = OosAuthError
    elif status == 429 or code_text == "429" or code_text in THROTTLE_CODES:
        kind = OosThrottledError
    elif (
        status == 404
        or code_text == "404"
        or code_text in NOT_FOUND_CODES
        or code_text.startswith("NoSuch")
        or code_text.endswith("NotFound")
    ):
        kind = OosNotFoundError
    return kind(message, status=status, code=code, request_id=request_id, method=method, path=path)


def call_not_available(error: OosApiError, route: Route, base_path: str) -> OosApiError:
    """A 404 from an OpenAPI-only call means the endpoint does not offer it: say so, and how to fix it."""
    if not (route.openapi_only and error.status == 404) or isinstance(error, OosCallNotAvailableError):
        return error
    hint = (
        'this connection already uses the OpenAPI path style (base_path "")'
        if not base_path
        else f'it is published in the OpenAPI path style: set the connection extra base_path to "" '
        f"(now {base_path!r}) if this OOS endpoint serves that style"
    )
    return OosCallNotAvailableError(
        f"{route.name} is not available on this endpoint ({error.message}); {hint}",
        status=error.status,
        code=error.code,
        request_id=error.request_id,
        method=error.method,
        path=error.path,
    )


def is_transient(error: BaseException) -> bool:
    """The one error classification: may the same request succeed if made again later?

    Yes for connection errors and timeouts (not TLS), throttling, 500/502/503/504 and an
    expired request; never for auth, not-found, other client errors or bugs.
    """
    if isinstance(error, OosConnectionError):
        return not error.tls
    if isinstance(error, OosApiError):
        if isinstance(error, OosThrottledError) or error.code == "RequestExpired":
            return True
        if isinstance(error, OosAuthError | OosNotFoundError):
            return False
        return error.status is None or error.status in TRANSIENT_STATUSES
    return isinstance(error, OSError | TimeoutError)


def _rejected_before_processing(error: BaseException) -> bool:
    if isinstance(error, OosConnectionError):
        return not error.request_sent
    return isinstance(error, OosApiError) and (
        error.status == 429 or isinstance(error, OosThrottledError) or error.code == "RequestExpired"
    )


def should_retry(error: BaseException, *, changes_state: bool, attempt: int) -> bool:
    """Whether a failed attempt may be sent again (see the module docstring)."""
    if isinstance(error, OosApiError) and error.code == "SignatureDoesNotMatch":
        return attempt == 1  # once, with a fresh signature; a wrong secret key fails fast
    if not is_transient(error):
        return False
    return not changes_state or _rejected_before_processing(error)


def retry_settings(
    config: OosConnectionConfig, route: Route, logger: logging.Logger, attempts: int | None = None
) -> dict[str, Any]:
    """tenacity arguments: bounded exponential backoff with jitter, our retry policy, re-raise."""

    def retry(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return False
        return should_retry(error, changes_state=route.changes_state, attempt=state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "OOS %s %s failed (%s); retry %d in %.2f s",
            route.method,
            route.path,
            error,
            state.attempt_number,
            wait,
        )

    return {
        "stop": stop_after_attempt(attempts if attempts is not None else config.max_retries + 1),
        # Doubling from retry_wait_min, capped at retry_wait_max, plus up to retry_wait_min of jitter.
        "wait": wait_exponential(
            multiplier=config.retry_wait_min, min=config.retry_wait_min, max=config.retry_wait_max
        )
        + wait_random(0, config.retry_wait_min),
        "retry": retry,
        "before_sleep": before_sleep,
        "reraise": True,
    }


def replaying(first: BaseException, send: Callable[[], T]) -> Callable[[], T]:
    """`send`, except that its first call raises `first` (an attempt already made).

    The hooks make the first attempt outside tenacity (the no-error path then costs nothing of
    it) and hand a failure to `Retrying(...)(replaying(error, send))`: tenacity then counts,
    logs, waits and stops exactly as if it had made that first attempt itself.
    """
    pending = [first]

    def attempt() -> T:
        if pending:
            raise pending.pop()
        return send()

    return attempt


def replaying_async(first: BaseException, send: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """`replaying` for a coroutine (tenacity's AsyncRetrying awaits only coroutine functions)."""
    pending = [first]

    async def attempt() -> T:
        if pending:
            raise pending.pop()
        return await send()

    return attempt


@functools.cache
def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        airflow_version = version("apache-airflow")
    except PackageNotFoundError:  # pragma: no cover - Airflow is a dependency
        airflow_version = "unknown"
    return f"airflow-provider-oos/{__version__} apache-airflow/{airflow_version}"


def log_call(
    logger: Any,  # a stdlib logger, or the structlog one Airflow gives hooks
    level: int,
    method: str,
    path: str,
    status: int | str,
    request_id: str,
    started: float,
) -> None:
    # The one line per HTTP call. Never the Authorization header, never a secret.
    logger.log(
        level,
        "OOS %s %s -> %s (request id %s, %.0f ms)",
        method,
        path,
        status,
        request_id,
        (time.monotonic() - started) * 1000,
    )


def read_body(response: requests.Response, deadline: float) -> bytes:
    """The whole answer, or ReadTimeout once `deadline` passes.

    The per-read timeout alone lets a server that dribbles bytes hold the call forever, so read
    what each socket read brings and check the clock in between.
    """
    import requests

    chunks: list[bytes] = []
    while chunk := response.raw.read1(65536, decode_content=True):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            response.close()
            raise requests.exceptions.ReadTimeout("the answer did not finish in time")
    return b"".join(chunks)


def requests_error(
    exc: requests.RequestException, method: str, path: str, request_id: str, timeout: float
) -> OosConnectionError:
    """Say what happened and whether the request may have reached the service."""
    import requests
    from urllib3.exceptions import NewConnectionError

    reason: BaseException = exc
    while reason.args and isinstance(reason.args[0], BaseException):
        reason = reason.args[0]  # requests -> urllib3 MaxRetryError -> the cause
    inner = getattr(reason, "reason", None)
    if isinstance(inner, BaseException):
        reason = inner
    where: dict[str, Any] = {"method": method, "path": path, "request_id": request_id}
    if isinstance(exc, requests.exceptions.SSLError):
        return OosConnectionError(f"TLS handshake failed: {reason}", request_sent=False, tls=True, **where)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return OosConnectionError(f"connect timed out after {timeout:g} s", request_sent=False, **where)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return OosConnectionError(f"no answer within {timeout:g} s", request_sent=True, **where)
    if isinstance(exc, requests.exceptions.ConnectionError) and isinstance(reason, NewConnectionError):
        # DNS failure or refused connection: nothing was sent.
        return OosConnectionError(f"could not connect: {reason}", request_sent=False, **where)
    return OosConnectionError(f"connection failed: {reason}", request_sent=True, **where)


def aiohttp_error(
    exc: BaseException, method: str, path: str, request_id: str, timeout: float
) -> OosConnectionError:
    """Say what happened and whether the request may have reached the service."""
    import aiohttp

    where: dict[str, Any] = {"method": method, "path": path, "request_id": request_id}
    connect_timeout: tuple[type[BaseException], ...] = tuple(
        kind for kind in (getattr(aiohttp, "ConnectionTimeoutError", None),) if kind is not None
    )
    if isinstance(exc, aiohttp.ClientSSLError):
        return OosConnectionError(f"TLS handshake failed: {exc}", request_sent=False, tls=True, **where)
    if isinstance(exc, aiohttp.ClientConnectorError) or (
        connect_timeout and isinstance(exc, connect_timeout)
    ):
        return OosConnectionError(f"could not connect: {exc}", request_sent=False, **where)
    if isinstance(exc, asyncio.TimeoutError):
        return OosConnectionError(f"no answer within {timeout:g} s", request_sent=True, **where)
    return OosConnectionError(f"connection failed: {exc!r}", request_sent=True, **where)
