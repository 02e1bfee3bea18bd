"""The `baidu_oos` connection: parsing and validating it (`parse_connection`) and its form.

Pure and import-cheap: no I/O, no HTTP client. Every bad value raises ValueError naming the
field and the fix, before any API call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_oos.client.auth import BceCredentials
from airflow_provider_oos.client.connection_form import (
    CONN_FIELDS,
    CONN_TYPE,
    DEFAULT_CONSOLE_URL,
    LOCALES,
    UI_FIELD_BEHAVIOUR,
)

DEFAULT_CONN_ID = "oos_default"
DEFAULT_BASE_PATH = "/api/logic/oos"  # the seed's path style; "" is the OpenAPI style
DEFAULT_REGION = "bj"
DEFAULT_SCHEME = "https"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_WAIT_MIN = 1.0
DEFAULT_RETRY_WAIT_MAX = 30.0

_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_BASE_PATH_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_CONN_FIELDS = tuple(CONN_FIELDS)  # the accepted extras, described once in connection_form
_UI_EXTRA_PREFIX = f"extra__{CONN_TYPE}__"  # how older Airflow UIs store custom form fields


@dataclass(frozen=True)
class OosConnectionConfig:
    """A parsed, validated `baidu_oos` connection. Its repr never shows a secret.

    :param endpoint: `scheme://host[:port]`, no path.
    :param region: the OOS region, e.g. `bj`.
    :param credentials: AK, SK and the optional STS token.
    :param base_path: the path before every operation's path: `/api/logic/oos` (the seed and the
        older SDKs, default) or "" (the OpenAPI metadata's style).
    :param console_url_template: the execution link, with `{execution_id}` and `{region}`.
    :param timeout: seconds to connect, per read, and for a whole answer.
    :param max_retries: retries of a call that is safe to resend.
    :param retry_wait_min: first backoff wait, in seconds.
    :param retry_wait_max: longest backoff wait, in seconds.
    :param locale: ``zh-cn`` or ``en-us``, sent as the ``locale`` query parameter on every call;
        None sends none (OOS answers in its default, ``zh-cn``).
    """

    endpoint: str
    region: str
    credentials: BceCredentials
    base_path: str = DEFAULT_BASE_PATH
    console_url_template: str = DEFAULT_CONSOLE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_wait_min: float = DEFAULT_RETRY_WAIT_MIN
    retry_wait_max: float = DEFAULT_RETRY_WAIT_MAX
    locale: str | None = None
    api_url: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", self.endpoint.rstrip("/") + self.base_path)

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
        base_path=_base_path(extras),
        console_url_template=console_url,
        timeout=timeout,
        max_retries=max_retries,
        retry_wait_min=wait_min,
        retry_wait_max=wait_max,
        locale=_locale(extras),
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
        prefixed = key.startswith(_UI_EXTRA_PREFIX)
        name = key[len(_UI_EXTRA_PREFIX) :] if prefixed else key
        # Older UIs store untouched form fields as empty; an explicit "" base_path is a choice.
        if value is None or (value == "" and (prefixed or name != "base_path")):
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


def _locale(extras: Mapping[str, Any]) -> str | None:
    """The `locale` extra: one of the published values (any case), or None when absent."""
    value = _extra_str(extras, "locale")
    if value is None:
        return None
    if value.lower() not in LOCALES:
        raise ValueError(
            f"extra 'locale' {value!r} is not a published OOS locale: use one of "
            f"{', '.join(map(repr, LOCALES))}, or leave it empty for the service's default (zh-cn)"
        )
    return value.lower()


def _base_path(extras: Mapping[str, Any]) -> str:
    """The `base_path` extra: absent means the seed's `/api/logic/oos`; "" or "/" the OpenAPI style."""
    value = extras.get("base_path")
    if value is None:
        return DEFAULT_BASE_PATH
    if not isinstance(value, str):
        raise ValueError(f"extra 'base_path' must be a string, got {type(value).__name__}")
    path = value.strip().rstrip("/")
    if path and not _BASE_PATH_RE.match(path):
        raise ValueError(
            f"extra 'base_path' {value!r} is not a URL path: use {DEFAULT_BASE_PATH!r} (the default) "
            'or "" for the OpenAPI path style (no base path)'
        )
    return path


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
    """`scheme://host[:port]` from a bare host, a full URL, or (empty host) the region.

    `scheme` (the extra) applies to a bare host only: a full URL keeps its own scheme.
    """
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
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"host {shown!r} has a path or query: give only scheme://host[:port] "
                f"(set the API path with the extra base_path)"
            )
        scheme = parts.scheme.lower()  # a full URL's own scheme wins over the `scheme` extra
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


def connection_form_widgets() -> dict[str, Any]:
    """Extra fields of the connection form (Airflow < 3.2; newer ones read `conn-fields`)."""
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


def ui_field_behaviour() -> dict[str, Any]:
    # The hook-method spelling of provider info's `ui-field-behaviour`.
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
