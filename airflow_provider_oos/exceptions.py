"""Errors raised by the provider. Messages never contain secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from airflow_provider_oos.client.models import Execution


class OosError(Exception):
    """Base of every error this provider raises on purpose."""


class OosApiError(OosError):
    """The OOS service (or the BCE gateway in front of it) refused or failed a call."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        details = ", ".join(
            f"{label} {value}"
            for label, value in (("HTTP", self.status), ("code", self.code), ("request id", self.request_id))
            if value is not None and value != ""
        )
        return f"{where}{self.message}" + (f" ({details})" if details else "")


class OosConnectionError(OosApiError):
    """No HTTP answer: DNS failure, refused connection, TLS failure, timeout or a dropped connection.

    `request_sent` is False only when the request provably never reached the service (DNS,
    refused, connect timeout, TLS handshake), which makes even a create call safe to resend.
    `tls` marks a TLS/certificate problem (retrying will not help).
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool,
        tls: bool = False,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.request_sent = request_sent
        self.tls = tls
        super().__init__(message, status=status, code=code, request_id=request_id, method=method, path=path)


class OosCreateOutcomeUnknownError(OosConnectionError):
    """A create-execution got no usable answer (read timeout, dropped connection, 5xx) and its
    execution was not found by its create token either: it may or may not exist.

    :param create_token: the value of the `airflow-create-token` execution tag sent with the create;
        look for it before starting the work again.
    :param cause: the error the create got.
    """

    def __init__(self, message: str, *, create_token: str, cause: OosApiError) -> None:
        self.create_token = create_token
        self.cause = cause
        super().__init__(
            message,
            request_sent=True,
            status=cause.status,  # a 5xx answer, or None when there was no answer
            code=cause.code,
            request_id=cause.request_id,
            method=cause.method,
            path=cause.path,
        )


class OosAuthError(OosApiError):
    """Bad key, bad signature, expired request or access denied."""


class OosNotFoundError(OosApiError):
    """The execution or template does not exist."""


class OosCallNotAvailableError(OosNotFoundError):
    """The endpoint does not offer this call (HTTP 404 from a call published only in the OpenAPI
    path style): says nothing about the work itself."""


class OosThrottledError(OosApiError):
    """The service asked us to slow down (HTTP 429)."""


class OosExecutionError(OosError):
    """An execution ended (or stopped) in a way the caller did not accept; carries the Execution."""

    def __init__(self, message: str, execution: Execution) -> None:
        self.execution = execution
        super().__init__(message)


class OosExecutionFailedError(OosExecutionError):
    """The execution reached a final state other than SUCCESS."""


class OosExecutionPausedError(OosExecutionError):
    """The execution is PAUSED (waits for a person) and the caller chose not to wait."""


class OosExecutionTimeoutError(OosExecutionError):
    """The execution did not reach a final state within the allowed time."""


class DescribedReport(Protocol):
    """A report that can say what it found (``rules.preflight.PreflightReport``)."""

    def describe(self) -> str: ...


class OosPreflightError(OosError, ValueError):
    """Preflight found problems in a planned run; ``report`` (a ``PreflightReport``) holds them all."""

    def __init__(self, report: DescribedReport) -> None:
        self.report = report
        super().__init__(report.describe())
