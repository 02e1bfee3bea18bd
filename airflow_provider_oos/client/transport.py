"""The wire under both hooks: the User-Agent, the per-call log line, a bounded body read, and
what ``requests`` and ``aiohttp`` raise mapped to one OosConnectionError that says whether the
request may have reached the service (which the retry policy needs).

The per-call line is DEBUG for an answer below 400 (a wait polls every few seconds: at INFO a task
log would get one line per poll and bury the progress lines) and WARNING for an error answer or
no answer; the errors themselves name method, path, HTTP status, OOS code and request id."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_oos import __version__
from airflow_provider_oos.exceptions import OosConnectionError

if TYPE_CHECKING:
    import requests


@functools.cache
def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        airflow_version = version("apache-airflow")
    except PackageNotFoundError:  # pragma: no cover - Airflow is a dependency
        airflow_version = "unknown"
    return f"airflow-provider-oos/{__version__} apache-airflow/{airflow_version}"


def call_level(status: int | None) -> int:
    """The level of a call's line: DEBUG for an answer below 400, WARNING for an error or no answer."""
    return logging.DEBUG if status is not None and status < 400 else logging.WARNING


def log_call(
    logger: Any,  # a stdlib logger, or the structlog one Airflow gives hooks
    method: str,
    path: str,
    status: int | None,
    request_id: str,
    started: float,
) -> None:
    """The one line per HTTP call (``status`` None: no answer). Never the Authorization header, never
    a secret."""
    logger.log(
        call_level(status),
        "OOS %s %s -> %s (request id %s, %.0f ms)",
        method,
        path,
        "no answer" if status is None else status,
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
