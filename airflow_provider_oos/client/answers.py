"""The OOS answer envelope: every published shape mapped to a result or to the right OosApiError."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_oos.client.routes import Route
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosCallNotAvailableError,
    OosNotFoundError,
    OosThrottledError,
)

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
REQUEST_ID_HEADER = "x-bce-request-id"

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
