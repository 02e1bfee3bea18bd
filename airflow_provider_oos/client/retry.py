"""The one error classification (``is_transient``) and the one retry policy built on it.

Retry policy. Read-only calls retry on transient errors: connection errors, timeouts, 429,
500/502/503/504 and `RequestExpired`. Calls that create or change something retry only when the
request provably never reached the service (DNS failure, refused connection, connect timeout) or
was rejected before processing (429, `RequestExpired`, one `SignatureDoesNotMatch`: every attempt
is signed afresh). Never after a read timeout or a 5xx: OOS has no idempotency token, a resent
create-execution could start the same maintenance twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import RetryCallState, stop_after_attempt, wait_exponential, wait_random

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosConnectionError,
    OosNotFoundError,
    OosThrottledError,
)

if TYPE_CHECKING:
    from airflow_provider_oos.client.connection import OosConnectionConfig
    from airflow_provider_oos.client.routes import Route

T = TypeVar("T")
# 501 and 505 say the server will never do it: not transient.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


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
