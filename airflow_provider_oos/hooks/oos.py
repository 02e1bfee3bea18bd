"""OosHook (sync, `requests`) and OosAsyncHook (aiohttp, for the trigger) over the OOS API.

Both hooks share: connection parsing (`parse_connection`), URL building and signing
(`airflow_provider_oos.auth`), the mapping of every response shape to a result or an
exception (`parse_response`), and the retry rules (`should_retry`, `retry_settings`).

Retry rules. Read-only calls retry on connection errors, timeouts, 429, 500/502/503/504 and
`RequestExpired`. Calls that create or change something retry only when the request provably
never reached the service (DNS failure, refused connection, connect timeout) or was rejected
before processing (429, `RequestExpired`, one `SignatureDoesNotMatch` — every attempt is signed
afresh). Never after a read timeout or a 5xx: OOS has no idempotency token, a resent
create-execution could start the same maintenance twice.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from airflow_provider_oos import __version__
from airflow_provider_oos.auth import BceAuth, BceCredentials, encode, signed_headers
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosConnectionError,
    OosNotFoundError,
    OosThrottledError,
)
from airflow_provider_oos.get_provider_info import CONN_FIELDS, DEFAULT_CONSOLE_URL, UI_FIELD_BEHAVIOUR
from airflow_provider_oos.models import (
    Execution,
    OosModel,
    OperatorPage,
    Tag,
    Template,
    TemplateCheck,
    TemplatePage,
)
from airflow_provider_oos.template_rules import normalize_template

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

API_PREFIX = "/api/logic/oos"
CONN_TYPE = "baidu_oos"
DEFAULT_CONN_ID = "oos_default"
DEFAULT_REGION = "bj"
DEFAULT_SCHEME = "https"
# DEFAULT_CONSOLE_URL (from get_provider_info) is a best guess: the deep link is not published.
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_WAIT_MIN = 1.0
DEFAULT_RETRY_WAIT_MAX = 30.0
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
RETRYABLE_READ_STATUSES = frozenset({429, 500, 502, 503, 504})

_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CONN_FIELDS = tuple(CONN_FIELDS)  # the accepted extras, described once in get_provider_info
_UI_EXTRA_PREFIX = f"extra__{CONN_TYPE}__"  # how older Airflow UIs store custom form fields


# --------------------------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OosConnectionConfig:
    """A parsed, validated `baidu_oos` connection. Its repr never shows a secret."""

    endpoint: str  # scheme://host[:port], no API path
    region: str
    credentials: BceCredentials
    console_url_template: str = DEFAULT_CONSOLE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_wait_min: float = DEFAULT_RETRY_WAIT_MIN
    retry_wait_max: float = DEFAULT_RETRY_WAIT_MAX
    api_url: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", self.endpoint.rstrip("/") + API_PREFIX)

    def console_url(self, execution_id: str) -> str:
        return self.console_url_template.format(execution_id=execution_id, region=self.region)


def parse_connection(conn: Any) -> OosConnectionConfig:
    """Build the config from an Airflow Connection (or any object with its attributes).

    Pure: no I/O. Raises ValueError naming the field and the fix. Never puts the
    connection object itself into a message (Airflow 3.3's repr shows the password).
    """
    access_key = (getattr(conn, "login", None) or "").strip()
    secret_key = getattr(conn, "password", None) or ""
    if not access_key:
        raise ValueError("login is empty: set the connection's login to your Access Key ID (AK)")
    if not secret_key:
        raise ValueError("password is empty: set the connection's password to your Secret Access Key (SK)")
    extras = _connection_extras(conn)

    region = _extra_str(extras, "region") or DEFAULT_REGION
    if not _REGION_RE.match(region):
        raise ValueError(f"extra 'region' {region!r} is not a region name such as 'bj' or 'gz'")
    scheme_extra = _extra_str(extras, "scheme")
    if scheme_extra is not None and scheme_extra.lower() not in ("http", "https"):
        raise ValueError(f"extra 'scheme' must be 'http' or 'https', not {scheme_extra!r}")
    endpoint = _endpoint(
        (getattr(conn, "host", None) or "").strip(),
        getattr(conn, "port", None),
        scheme_extra.lower() if scheme_extra else None,
        region,
    )

    console_url = _extra_str(extras, "console_url") or DEFAULT_CONSOLE_URL
    try:
        console_url.format(execution_id="d-x", region=region)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"extra 'console_url' {console_url!r} is not a valid template: only the placeholders "
            "{execution_id} and {region} are allowed"
        ) from exc

    timeout = _extra_number(extras, "timeout", DEFAULT_TIMEOUT, minimum=0.001)
    max_retries = int(_extra_number(extras, "max_retries", DEFAULT_MAX_RETRIES, minimum=0, integer=True))
    wait_min = _extra_number(extras, "retry_wait_min", DEFAULT_RETRY_WAIT_MIN, minimum=0)
    wait_max = _extra_number(extras, "retry_wait_max", max(DEFAULT_RETRY_WAIT_MAX, wait_min), minimum=0)
    if wait_max < wait_min:
        raise ValueError(
            f"extra 'retry_wait_max' ({wait_max:g}) is below 'retry_wait_min' ({wait_min:g}): raise it"
        )
    return OosConnectionConfig(
        endpoint=endpoint,
        region=region,
        credentials=BceCredentials(access_key, secret_key, _extra_str(extras, "session_token")),
        console_url_template=console_url,
        timeout=timeout,
        max_retries=max_retries,
        retry_wait_min=wait_min,
        retry_wait_max=wait_max,
    )


def _connection_extras(conn: Any) -> dict[str, Any]:
    raw = getattr(conn, "extra", None)
    if isinstance(raw, Mapping):
        parsed: Any = dict(raw)
    elif isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ValueError(
                'extra is not valid JSON: write it as a JSON object, e.g. {"region": "bj"}'
            ) from None
    else:
        parsed = {}
    if not isinstance(parsed, dict):
        raise ValueError('extra must be a JSON object, e.g. {"region": "bj"}')
    extras: dict[str, Any] = {}
    for key, value in parsed.items():
        name = key[len(_UI_EXTRA_PREFIX) :] if key.startswith(_UI_EXTRA_PREFIX) else key
        if value is None or value == "":  # the UI stores untouched form fields as empty
            continue
        extras[name] = value
    unknown = sorted(set(extras) - set(_CONN_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown extra field(s) {', '.join(map(repr, unknown))}: "
            f"remove them; a baidu_oos connection accepts {', '.join(_CONN_FIELDS)}"
        )
    return extras


def _extra_str(extras: Mapping[str, Any], name: str) -> str | None:
    value = extras.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"extra {name!r} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _extra_number(
    extras: Mapping[str, Any], name: str, default: float, *, minimum: float, integer: bool = False
) -> float:
    value = extras.get(name)
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value) if integer else float(value)
        if integer and isinstance(value, float) and not value.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"extra {name!r} must be {kind}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"extra {name!r} must be at least {minimum:g}, got {number:g}")
    return number


def _endpoint(host: str, port: Any, scheme: str | None, region: str) -> str:
    """`scheme://host[:port]` from a bare host, a full URL, or (empty host) the region."""
    if not host:
        host = f"oos.{region}.baidubce.com"
    # Messages quote the host, but never credentials someone pasted into it (`user:secret@`).
    prefix, sep, rest = host.rpartition("://")
    shown = f"{prefix}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else host
    if "://" in host:
        parts = urlsplit(host)
        if parts.username or parts.password:
            raise ValueError(f"host {shown!r} must not carry credentials: put them in login and password")
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(f"host {shown!r}: the URL scheme must be http or https")
        if scheme is not None and scheme != parts.scheme.lower():
            raise ValueError(
                f"host {shown!r} says {parts.scheme}:// but extra 'scheme' says {scheme!r}: make them agree"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"host {shown!r} has a path or query: give only scheme://host[:port] "
                f"(the API path {API_PREFIX} is added by the hook)"
            )
        scheme = parts.scheme.lower()
        try:
            url_port = parts.port
        except ValueError:
            raise ValueError(f"host {shown!r} has an invalid port") from None
        hostname = parts.hostname or ""
    else:
        if "/" in host or "@" in host:
            raise ValueError(
                f"host {shown!r} is neither a bare host name nor a full URL such as https://HOST"
            )
        name, sep, port_text = host.rpartition(":")
        if sep and port_text.isdigit() and not name.endswith(":"):
            hostname, url_port = name, int(port_text)
        else:
            hostname, url_port = host, None
        hostname = hostname.strip("[]")
    if not hostname:
        raise ValueError(f"host {shown!r} has no host name")
    if port not in (None, ""):
        try:
            conn_port = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"port must be a number, got {port!r}") from None
        if url_port is not None and url_port != conn_port:
            raise ValueError(f"host says port {url_port} but port says {conn_port}: make them agree")
        url_port = conn_port
    if url_port is not None and not 0 < url_port < 65536:
        raise ValueError(f"port {url_port} is out of range 1-65535")
    host_part = f"[{hostname}]" if ":" in hostname else hostname
    port_part = f":{url_port}" if url_port is not None else ""
    return f"{scheme or DEFAULT_SCHEME}://{host_part}{port_part}"


# --------------------------------------------------------------------------------------------
# Endpoints, responses and retries (shared by both hooks)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below API_PREFIX
    changes_state: bool  # creates or changes something: see the module docstring for retries


CREATE_TEMPLATE = Endpoint("POST", "/v2/template", changes_state=True)
CHECK_TEMPLATE = Endpoint("POST", "/v2/template/check", changes_state=False)
UPDATE_TEMPLATE = Endpoint("PUT", "/v2/template", changes_state=True)
DELETE_TEMPLATE = Endpoint("DELETE", "/v2/template", changes_state=True)
GET_TEMPLATE = Endpoint("GET", "/v2/template", changes_state=False)
LIST_TEMPLATES = Endpoint("POST", "/v2/template/list", changes_state=False)
LIST_OPERATORS = Endpoint("POST", "/v1/operator/list", changes_state=False)
CREATE_EXECUTION = Endpoint("POST", "/v2/execution", changes_state=True)
GET_EXECUTION = Endpoint("GET", "/v2/execution", changes_state=False)


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


def should_retry(error: BaseException, *, changes_state: bool, attempt: int) -> bool:
    """Whether a failed attempt may be sent again (see the module docstring)."""
    if isinstance(error, OosConnectionError):
        if error.tls:
            return False  # a certificate or protocol mismatch does not heal by itself
        return not (changes_state and error.request_sent)
    if not isinstance(error, OosApiError):
        return False
    if error.status == 429 or isinstance(error, OosThrottledError) or error.code == "RequestExpired":
        return True
    if error.code == "SignatureDoesNotMatch":
        return attempt == 1  # once, with a fresh signature; a wrong secret key fails fast
    return not changes_state and error.status in RETRYABLE_READ_STATUSES


def retry_settings(
    config: OosConnectionConfig, endpoint: Endpoint, attempts: int | None = None
) -> dict[str, Any]:
    """tenacity arguments: bounded exponential backoff with jitter, our retry rules, re-raise."""

    def retry(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return False
        return should_retry(error, changes_state=endpoint.changes_state, attempt=state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "OOS %s %s failed (%s); retry %d in %.2f s",
            endpoint.method,
            endpoint.path,
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


def _log_call(
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


def _parse_model(model: type[M], result: Any, endpoint: Endpoint) -> M:
    if not isinstance(result, dict):
        raise OosApiError(
            f"unexpected result: expected a JSON object, got {type(result).__name__}",
            method=endpoint.method,
            path=API_PREFIX + endpoint.path,
        )
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        raise OosApiError(
            f"unexpected result shape for {model.__name__}: {exc.errors(include_url=False)[:3]}",
            method=endpoint.method,
            path=API_PREFIX + endpoint.path,
        ) from None


def _execution_from(result: Any, execution_id: str) -> Execution:
    if result is None:
        raise OosNotFoundError(
            f"execution {execution_id!r} not found", method="GET", path=API_PREFIX + GET_EXECUTION.path
        )
    return _parse_model(Execution, result, GET_EXECUTION)


def _require_text(value: Any, name: str, hint: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string ({hint}), got {value!r}")
    return value.strip()


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------


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


def _page_body(page_no: int, page_size: int, sort: str, ascending: bool) -> dict[str, Any]:
    if not isinstance(page_no, int) or page_no < 1:
        raise ValueError(f"page_no must be an integer >= 1, got {page_no!r}")
    if not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise ValueError(f"page_size must be an integer from 1 to 100, got {page_size!r}")
    return {"pageNo": page_no, "pageSize": page_size, "sort": sort, "ascending": bool(ascending)}


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# Sync hook
# --------------------------------------------------------------------------------------------


class OosHook(BaseHook):
    """Talks to Baidu AI Cloud OOS over one keep-alive `requests.Session`.

    No I/O in `__init__`: the connection is looked up on first use.
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
        return _connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return _ui_field_behaviour()

    # -- the API ---------------------------------------------------------------------------

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
        execution_id = _require_text(execution_id, "execution_id", "an id such as 'd-…'")
        return _execution_from(self._call(GET_EXECUTION, query={"id": execution_id}), execution_id)

    def create_template(self, template: Template | Mapping[str, Any]) -> str:
        body = template_payload(template, inline_required=True)
        return self._id_from(self._call(CREATE_TEMPLATE, body=body), CREATE_TEMPLATE)

    def check_template(self, template: Template | Mapping[str, Any]) -> TemplateCheck:
        body = template_payload(template, inline_required=False)
        return _parse_model(TemplateCheck, self._call(CHECK_TEMPLATE, body=body), CHECK_TEMPLATE)

    def update_template(self, template: Template | Mapping[str, Any]) -> None:
        body = template_payload(template, inline_required=True)
        if not body.get("id"):
            raise ValueError("template.id is required to update a template: take it from get_template()")
        self._call(UPDATE_TEMPLATE, body=body)

    def delete_template(self, template_id: str) -> None:
        template_id = _require_text(template_id, "template_id", "an id such as 'tpl-…'")
        self._call(DELETE_TEMPLATE, query={"id": template_id})

    def get_template(self, name: str, template_type: str = "INDIVIDUAL") -> Template:
        name = _require_text(name, "name", "the template's name")
        if template_type not in TEMPLATE_TYPES:
            raise ValueError(f"template_type must be one of {TEMPLATE_TYPES}, got {template_type!r}")
        result = self._call(GET_TEMPLATE, query={"name": name, "type": template_type})
        if result is None:
            raise OosNotFoundError(
                f"template {name!r} ({template_type}) not found",
                method=GET_TEMPLATE.method,
                path=API_PREFIX + GET_TEMPLATE.path,
            )
        return _parse_model(Template, result, GET_TEMPLATE)

    def list_templates(
        self,
        page_no: int = 1,
        page_size: int = 100,
        sort: str = "createTime",
        ascending: bool = False,
        name: str | None = None,
        template_type: str | None = None,
    ) -> TemplatePage:
        body = _page_body(page_no, page_size, sort, ascending)
        if name is not None:
            body["name"] = name
        if template_type is not None:
            if template_type not in TEMPLATE_TYPES:
                raise ValueError(f"template_type must be one of {TEMPLATE_TYPES}, got {template_type!r}")
            body["type"] = template_type
        return _parse_model(TemplatePage, self._call(LIST_TEMPLATES, body=body), LIST_TEMPLATES)

    def list_operators(
        self, page_no: int = 1, page_size: int = 100, sort: str = "createTime", ascending: bool = False
    ) -> OperatorPage:
        body = _page_body(page_no, page_size, sort, ascending)
        return _parse_model(OperatorPage, self._call(LIST_OPERATORS, body=body), LIST_OPERATORS)

    def console_url(self, execution_id: str) -> str:
        return self.config.console_url(execution_id)

    def test_connection(self) -> tuple[bool, str]:
        """One read-only call (list one action type); the message says what is wrong."""
        try:
            config = self.config
            page = _parse_model(
                OperatorPage,
                self._call(LIST_OPERATORS, body=_page_body(1, 1, "createTime", False), attempts=1),
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

    # -- plumbing --------------------------------------------------------------------------

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
    def _id_from(result: Any, endpoint: Endpoint) -> str:
        if isinstance(result, dict) and isinstance(result.get("id"), str) and result["id"]:
            return str(result["id"])
        raise OosApiError(
            "unexpected result: no 'id' in the answer",
            method=endpoint.method,
            path=API_PREFIX + endpoint.path,
        )

    def _call(
        self,
        endpoint: Endpoint,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        attempts: int | None = None,
    ) -> Any:
        config = self.config
        url = config.api_url + endpoint.path + query_string(query)
        data = _json_bytes(body) if body is not None else None
        for attempt in Retrying(**retry_settings(config, endpoint, attempts)):
            with attempt:
                return self._send_once(endpoint, url, data)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send_once(self, endpoint: Endpoint, url: str, data: bytes | None) -> Any:
        request_id = str(uuid.uuid4())
        headers = {REQUEST_ID_HEADER: request_id}
        if data is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        log_path = url[len(self.config.endpoint) :]
        started = time.monotonic()
        try:
            response = self.session.request(
                endpoint.method, url, data=data, headers=headers, timeout=self.config.timeout, stream=True
            )
            body = _read_body(response, time.monotonic() + self.config.timeout)
        except requests.RequestException as exc:
            error = _requests_error(exc, endpoint, log_path, request_id, self.config.timeout)
            _log_call(self.log, logging.WARNING, endpoint.method, log_path, "no answer", request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        _log_call(
            self.log,
            level,
            endpoint.method,
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
            method=endpoint.method,
            path=API_PREFIX + endpoint.path,
        )


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """The whole answer, or ReadTimeout once `deadline` passes.

    The per-read timeout alone lets a server that dribbles bytes hold the call forever, so read
    what each socket read brings and check the clock in between.
    """
    chunks: list[bytes] = []
    while chunk := response.raw.read1(65536, decode_content=True):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            response.close()
            raise requests.exceptions.ReadTimeout("the answer did not finish in time")
    return b"".join(chunks)


def _requests_error(
    exc: requests.RequestException, endpoint: Endpoint, path: str, request_id: str, timeout: float
) -> OosConnectionError:
    """Say what happened and whether the request may have reached the service."""
    from urllib3.exceptions import NewConnectionError

    reason: BaseException = exc
    while reason.args and isinstance(reason.args[0], BaseException):
        reason = reason.args[0]  # requests -> urllib3 MaxRetryError -> the cause
    inner = getattr(reason, "reason", None)
    if isinstance(inner, BaseException):
        reason = inner
    where: dict[str, Any] = {
        "method": endpoint.method,
        "path": API_PREFIX + endpoint.path,
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


# --------------------------------------------------------------------------------------------
# Async hook (trigger)
# --------------------------------------------------------------------------------------------

if sys.version_info >= (3, 11):
    from asyncio import timeout as _deadline
else:  # aiohttp brings async-timeout on Python 3.10
    from async_timeout import timeout as _deadline

# One pooled aiohttp session per (event loop, connection id), shared by every trigger of a
# triggerer process. A session is bound to the loop it was created on.
_SESSIONS: dict[tuple[asyncio.AbstractEventLoop, str], aiohttp.ClientSession] = {}
# Triggers using each pool right now (see OosAsyncHook.__aenter__/__aexit__).
_SESSION_USERS: dict[tuple[asyncio.AbstractEventLoop, str], int] = {}
# Open connections per pool; thousands of waiting triggers queue for them instead of
# opening thousands of sockets.
POOL_LIMIT = 100


def _pooled_session(conn_id: str) -> aiohttp.ClientSession:
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _SESSIONS.get((loop, conn_id))
    if session is None or session.closed:
        for key in [key for key in _SESSIONS if key[0].is_closed()]:
            del _SESSIONS[key]  # sessions of dead loops cannot be closed any more; drop them
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_LIMIT, ttl_dns_cache=300),
            headers={"User-Agent": user_agent()},
            skip_auto_headers=("Content-Type",),
        )
        _SESSIONS[(loop, conn_id)] = session
    return session


async def close_all_sessions() -> None:
    """Close the pooled sessions of the running event loop (call it before the loop ends)."""
    loop = asyncio.get_running_loop()
    for key in [key for key in _SESSIONS if key[0] is loop]:
        await _SESSIONS.pop(key).close()


async def _aget_connection(conn_id: str) -> Any:
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async  # Airflow without the async lookup

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class OosAsyncHook:
    """The async twin of `OosHook.get_execution`, for the trigger. No I/O in `__init__`."""

    def __init__(self, oos_conn_id: str = DEFAULT_CONN_ID) -> None:
        self.oos_conn_id = oos_conn_id
        self._config: OosConnectionConfig | None = None
        self._timeout: aiohttp.ClientTimeout | None = None
        # One AsyncRetrying per endpoint, reused by every poll: keeps per-call CPU low.
        self._retrying: dict[Endpoint, AsyncRetrying] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(oos_conn_id={self.oos_conn_id!r})"

    async def __aenter__(self) -> OosAsyncHook:
        """Count this user of the loop's pooled session, so the last one out can close it."""
        key = (asyncio.get_running_loop(), self.oos_conn_id)
        _SESSION_USERS[key] = _SESSION_USERS.get(key, 0) + 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        key = (asyncio.get_running_loop(), self.oos_conn_id)
        users = _SESSION_USERS.pop(key, 1) - 1
        if users > 0:
            _SESSION_USERS[key] = users
        elif (session := _SESSIONS.pop(key, None)) is not None:
            await session.close()

    async def get_config(self) -> OosConnectionConfig:
        if self._config is None:
            self._config = parse_connection(await _aget_connection(self.oos_conn_id))
        return self._config

    async def get_execution(self, execution_id: str) -> Execution:
        execution_id = _require_text(execution_id, "execution_id", "an id such as 'd-…'")
        result = await self._call(GET_EXECUTION, {"id": execution_id})
        return _execution_from(result, execution_id)

    async def _call(self, endpoint: Endpoint, query: Mapping[str, str]) -> Any:
        config = await self.get_config()
        url = config.api_url + endpoint.path + query_string(query)
        retrying = self._retrying.get(endpoint)
        if retrying is None:
            retrying = self._retrying[endpoint] = AsyncRetrying(**retry_settings(config, endpoint))
        # Calling (not iterating) a Retrying keeps the attempt state per call, so one instance
        # serves concurrent calls.
        return await retrying(self._send_once, config, endpoint, url, query)

    async def _send_once(
        self, config: OosConnectionConfig, endpoint: Endpoint, url: str, query: Mapping[str, str]
    ) -> Any:
        import aiohttp
        from yarl import URL

        if self._timeout is None:
            # Waiting for a free pooled connection is not a timeout: only connect and read are.
            self._timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=config.timeout, sock_read=config.timeout
            )
        request_id = str(uuid.uuid4())
        headers = signed_headers(config.credentials, endpoint.method, url, query)
        headers[REQUEST_ID_HEADER] = request_id
        log_path = url[len(config.endpoint) :]
        started = time.monotonic()
        try:
            # sock_read bounds each read; the deadline (entered once the headers are in) bounds
            # the whole answer: a server that dribbles bytes would otherwise hold the call forever.
            async with (
                _pooled_session(self.oos_conn_id).request(
                    endpoint.method, URL(url, encoded=True), headers=headers, timeout=self._timeout
                ) as response,
                _deadline(config.timeout),
            ):
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = _aiohttp_error(exc, endpoint, request_id, config.timeout)
            _log_call(log, logging.WARNING, endpoint.method, log_path, "no answer", request_id, started)
            raise error from None
        answered_id = response.headers.get(REQUEST_ID_HEADER)
        level = logging.DEBUG if response.status < 400 else logging.WARNING
        if log.isEnabledFor(level):
            _log_call(
                log, level, endpoint.method, log_path, response.status, answered_id or request_id, started
            )
        return parse_response(
            response.status,
            body,
            request_id=answered_id,
            sent_request_id=request_id,
            method=endpoint.method,
            path=API_PREFIX + endpoint.path,
        )


def _aiohttp_error(
    exc: BaseException, endpoint: Endpoint, request_id: str, timeout: float
) -> OosConnectionError:
    import aiohttp

    where: dict[str, Any] = {
        "method": endpoint.method,
        "path": API_PREFIX + endpoint.path,
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


# --------------------------------------------------------------------------------------------
# Connection form (Airflow < 3.2 reads these; newer ones read conn-fields in provider info)
# --------------------------------------------------------------------------------------------


def _connection_form_widgets() -> dict[str, Any]:
    # Imported here: the UI libraries are heavy and absent from workers.
    from flask_appbuilder.fieldwidgets import (  # type: ignore[import-not-found]
        BS3PasswordFieldWidget,
        BS3TextFieldWidget,
    )
    from flask_babel import lazy_gettext  # type: ignore[import-not-found]
    from wtforms import PasswordField, StringField  # type: ignore[import-untyped,import-not-found]

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS.items():
        label = lazy_gettext(spec["label"])
        if spec["schema"].get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget())
        else:
            widgets[name] = StringField(label, widget=BS3TextFieldWidget())
    return widgets


def _ui_field_behaviour() -> dict[str, Any]:
    # The hook-method spelling of provider info's `ui-field-behaviour`.
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
