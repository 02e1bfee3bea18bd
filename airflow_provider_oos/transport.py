"""How the hooks talk to OOS, shared by the sync and the async hook.

The routes of the published operations, the request bodies, the mapping of every answer shape
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from tenacity import RetryCallState, stop_after_attempt, wait_exponential, wait_random

from airflow_provider_oos import __version__
from airflow_provider_oos.auth import encode
from airflow_provider_oos.connection import DEFAULT_BASE_PATH
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosConnectionError,
    OosNotFoundError,
    OosThrottledError,
)
from airflow_provider_oos.models import Execution, OosModel, Tag, Template
from airflow_provider_oos.template_rules import normalize_template

if TYPE_CHECKING:
    import requests

    from airflow_provider_oos.connection import OosConnectionConfig

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
    """One published operation: its HTTP method and path below the connection's base path.

    :param method: HTTP method.
    :param path: path below the base path, e.g. `/v2/execution`.
    :param changes_state: whether the call creates or changes something (see the retry policy).
    """

    method: str
    path: str
    changes_state: bool


CREATE_TEMPLATE = Route("POST", "/v2/template", changes_state=True)
CHECK_TEMPLATE = Route("POST", "/v2/template/check", changes_state=False)
UPDATE_TEMPLATE = Route("PUT", "/v2/template", changes_state=True)
DELETE_TEMPLATE = Route("DELETE", "/v2/template", changes_state=True)
GET_TEMPLATE = Route("GET", "/v2/template", changes_state=False)
LIST_TEMPLATES = Route("POST", "/v2/template/list", changes_state=False)
LIST_OPERATORS = Route("POST", "/v1/operator/list", changes_state=False)
CREATE_EXECUTION = Route("POST", "/v2/execution", changes_state=True)
GET_EXECUTION = Route("GET", "/v2/execution", changes_state=False)


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


M = TypeVar("M", bound=OosModel)


def parse_model(model: type[M], result: Any, route: Route) -> M:
    if not isinstance(result, dict):
        raise OosApiError(
            f"unexpected result: expected a JSON object, got {type(result).__name__}",
            method=route.method,
            path=DEFAULT_BASE_PATH + route.path,
        )
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        raise OosApiError(
            f"unexpected result shape for {model.__name__}: {exc.errors(include_url=False)[:3]}",
            method=route.method,
            path=DEFAULT_BASE_PATH + route.path,
        ) from None


def execution_from(result: Any, execution_id: str) -> Execution:
    if result is None:
        raise OosNotFoundError(
            f"execution {execution_id!r} not found", method="GET", path=DEFAULT_BASE_PATH + GET_EXECUTION.path
        )
    return parse_model(Execution, result, GET_EXECUTION)


def require_text(value: Any, name: str, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string ({hint}), got {value!r}")
    return value.strip()


def as_template(template: Template | Mapping[str, Any], name: str = "template") -> Template:
    if isinstance(template, Template):
        return template
    if isinstance(template, Mapping):
        try:
            return Template.model_validate(dict(template))
        except ValidationError as exc:
            raise ValueError(f"{name} is not a valid OOS template: {exc}") from None
    raise TypeError(f"{name} must be a Template or a dict, got {type(template).__name__}")


def template_payload(template: Template | Mapping[str, Any], *, inline_required: bool) -> dict[str, Any]:
    """The JSON to send for a template. Templates to store or run are checked and completed by
    `normalize_template` first; a template sent to check-template goes as given (that is the check)."""
    parsed = as_template(template)
    return (normalize_template(parsed) if inline_required else parsed).to_api()


def tags_payload(tags: Sequence[Tag | Mapping[str, Any]] | Mapping[str, str] | None) -> list[dict[str, Any]]:
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        items: list[Any] = [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    elif isinstance(tags, (list, tuple)):
        items = list(tags)
    else:
        raise TypeError(f"tags must be a dict of key -> value or a list of tags, got {type(tags).__name__}")
    result = []
    for item in items:
        try:
            tag = item if isinstance(item, Tag) else Tag.model_validate(item)
        except ValidationError:
            raise ValueError(f"tags: {item!r} is not a tag; use {{'key': ..., 'value': ...}}") from None
        result.append(tag.to_api())
    return result


def page_body(page_no: int, page_size: int, sort: str, ascending: bool) -> dict[str, Any]:
    if not isinstance(page_no, int) or page_no < 1:
        raise ValueError(f"page_no must be an integer >= 1, got {page_no!r}")
    if not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise ValueError(f"page_size must be an integer from 1 to 100, got {page_size!r}")
    return {"pageNo": page_no, "pageSize": page_size, "sort": sort, "ascending": bool(ascending)}


def json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


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
    exc: requests.RequestException, route: Route, path: str, request_id: str, timeout: float
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
    where: dict[str, Any] = {
        "method": route.method,
        "path": DEFAULT_BASE_PATH + route.path,
        "request_id": request_id,
    }
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


def aiohttp_error(exc: BaseException, route: Route, request_id: str, timeout: float) -> OosConnectionError:
    import aiohttp

    where: dict[str, Any] = {
        "method": route.method,
        "path": DEFAULT_BASE_PATH + route.path,
        "request_id": request_id,
    }
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
