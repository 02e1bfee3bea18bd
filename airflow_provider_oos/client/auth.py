"""bce-auth-v1 request signing: one pure function plus thin adapters.

`sign` is pure (no I/O, no clock, no Airflow imports) so it is checked against the official
test vectors and the official SDK's signer. `BceAuth` adapts it to `requests`;
`signed_headers` gives the headers the async client sends.

We do not use the official SDK's signer at runtime: it needs bytes arguments, is slow, and the
package pulls in `future` (CVE-2025-50817); see ../shared/design/oos-api.md.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote, urlsplit

AUTH_VERSION = "bce-auth-v1"
DEFAULT_EXPIRATION = 1800
# Headers signed when the caller names none (the BCE default set); x-bce-* are added too.
DEFAULT_HEADERS_TO_SIGN = frozenset({"host", "content-length", "content-type", "content-md5"})
BCE_HEADER_PREFIX = "x-bce-"
DATE_HEADER = "x-bce-date"
SECURITY_TOKEN_HEADER = "x-bce-security-token"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Header names and values are trimmed of ASCII whitespace only, as the official SDKs do
# (str.strip() would also drop Unicode spaces such as U+00A0 and change the signature).
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


# Polling signs the same names, hosts, paths and ids again and again: remember their encodings
# (bounded caches; the strings are request parts, never the secret key).
@functools.lru_cache(maxsize=4096)
def encode(value: str) -> str:
    """Percent-encode everything but A-Z a-z 0-9 - _ . ~ (uppercase hex over UTF-8)."""
    return quote(value, safe="")


@functools.lru_cache(maxsize=1024)
def _encode_path(path: str) -> str:
    return quote(path, safe="/") or "/"


@functools.lru_cache(maxsize=16)
def _format_epoch(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def format_timestamp(timestamp: int | float | datetime) -> str:
    """UTC `YYYY-MM-DDTHH:MM:SSZ` from epoch seconds or an aware datetime."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp: a datetime must be timezone-aware (use datetime.now(timezone.utc))")
        return timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _format_epoch(int(timestamp))


def canonical_query(query: Mapping[str, Any] | None) -> str:
    if not query:
        return ""
    pairs = [
        f"{encode(str(key))}={'' if value is None else encode(str(value))}"
        for key, value in query.items()
        if str(key).lower() != "authorization"
    ]
    pairs.sort()
    return "&".join(pairs)


@functools.lru_cache(maxsize=256)
def _names_to_sign(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name.strip(_ASCII_WHITESPACE).lower() for name in names)


@functools.lru_cache(maxsize=4096)
def _header_entry(raw_name: str, raw_value: str) -> tuple[str, str, str] | None:
    """(lowercase name, encoded name, canonical line) of one header; None if its value is empty."""
    value = raw_value.strip(_ASCII_WHITESPACE)
    if not value:  # empty values are not signed
        return None
    name = raw_name.strip(_ASCII_WHITESPACE).lower()
    encoded_name = encode(name)
    return name, encoded_name, f"{encoded_name}:{encode(value)}"


def canonical_headers(
    headers: Mapping[str, Any], headers_to_sign: Iterable[str] | None
) -> tuple[str, list[str]]:
    """Return the canonical header block and the sorted names that went into it."""
    wanted = None if headers_to_sign is None else _names_to_sign(tuple(headers_to_sign))
    lines: list[str] = []
    names: list[str] = []
    for raw_name, raw_value in headers.items():
        entry = _header_entry(str(raw_name), str(raw_value))
        if entry is None:
            continue
        name, encoded_name, line = entry
        if wanted is None:
            if name not in DEFAULT_HEADERS_TO_SIGN and not name.startswith(BCE_HEADER_PREFIX):
                continue
        elif name not in wanted:
            continue
        lines.append(line)
        names.append(encoded_name)
    lines.sort()
    names.sort()
    return "\n".join(lines), names


class _SigningKeyCache:
    """The last signing key, for as long as the signed timestamp stays the same second.

    The key is HMAC(SK, "bce-auth-v1/AK/timestamp/expiration"): it depends on nothing else,
    and the timestamp has a 1-second resolution, so a process polling many executions per
    second derives it once per second instead of once per request (one HMAC instead of two).
    What is kept is an HMAC object already keyed with it, so each request only hashes its own
    canonical text. One entry, replaced as a whole (safe across threads); repr shows nothing.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[str, str, hmac.HMAC] | None = None

    def keyed(self, secret_key: str, prefix: str) -> hmac.HMAC:
        """A fresh HMAC-SHA256 keyed with the signing key of `prefix` (AK, timestamp, expiration)."""
        entry = self._entry
        if entry is None or entry[0] != prefix or entry[1] != secret_key:
            signing_key = hmac.digest(secret_key.encode(), prefix.encode(), "sha256").hex()
            entry = (prefix, secret_key, hmac.new(signing_key.encode(), digestmod="sha256"))
            self._entry = entry
        return entry[2].copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_SIGNING_KEYS = _SigningKeyCache()


def sign(
    ak: str,
    sk: str,
    method: str,
    path: str,
    query: Mapping[str, Any] | None,
    headers: Mapping[str, Any] | None,
    timestamp: int | float | datetime,
    expiration: int = DEFAULT_EXPIRATION,
    headers_to_sign: Iterable[str] | None = None,
) -> str:
    """Return the bce-auth-v1 `Authorization` header value.

    `path` is the decoded URI path; `headers_to_sign=None` signs the default set
    (host, content-length, content-type, content-md5 and every x-bce-* header present).
    """
    prefix = f"{AUTH_VERSION}/{ak}/{format_timestamp(timestamp)}/{int(expiration)}"
    header_block, signed_names = canonical_headers(headers or {}, headers_to_sign)
    canonical_request = f"{method.upper()}\n{_encode_path(path)}\n{canonical_query(query)}\n{header_block}"
    signature = _SIGNING_KEYS.keyed(sk, prefix)
    signature.update(canonical_request.encode())
    return f"{prefix}/{';'.join(signed_names)}/{signature.hexdigest()}"


@dataclass(frozen=True)
class BceCredentials:
    """An access key pair, optionally with an STS session token. Secrets stay out of repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def host_header(url: str) -> str:
    """The `host` value to sign: hostname, plus `:port` only for a non-default port."""
    parts = urlsplit(url)
    return _host_of(parts.scheme, parts.netloc)


@functools.lru_cache(maxsize=64)
def _host_of(scheme: str, netloc: str) -> str:
    # Cached: a hook signs every request to the same few endpoints.
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def signed_headers(
    credentials: BceCredentials,
    method: str,
    url: str,
    query: Mapping[str, Any] | None = None,
    timestamp: float | None = None,
    expiration: int = DEFAULT_EXPIRATION,
) -> dict[str, str]:
    """Headers to add to a request (`x-bce-date`, STS token, `Authorization`).

    Signs `host;x-bce-date` (and the STS token when present), as the Java and Go OOS
    clients do. `query` defaults to the URL's own query string.
    """
    parts = urlsplit(url)
    if query is None:
        query = _parse_query(parts.query)
    now = time.time() if timestamp is None else timestamp
    extra = {DATE_HEADER: format_timestamp(now)}
    if credentials.session_token:
        extra[SECURITY_TOKEN_HEADER] = credentials.session_token
    to_sign = {"host": _host_of(parts.scheme, parts.netloc), **extra}
    extra["Authorization"] = sign(
        credentials.access_key_id,
        credentials.secret_access_key,
        method,
        unquote(parts.path) or "/",
        query,
        to_sign,
        now,
        expiration,
        headers_to_sign=to_sign.keys(),
    )
    return extra


def _parse_query(raw: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in raw.split("&") if raw else ():
        key, _, value = item.partition("=")
        result[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    return result


class PreparedRequest(Protocol):
    """What ``BceAuth`` reads and signs of a ``requests.PreparedRequest`` (described, not imported:
    the client must not need the HTTP library to be imported)."""

    @property
    def url(self) -> str | None: ...

    @property
    def method(self) -> str | None: ...

    @property
    def headers(self) -> MutableMapping[str, str]: ...


_Request = TypeVar("_Request", bound=PreparedRequest)


class BceAuth:
    """`requests` adapter (requests calls any callable given as `auth`): signs each prepared request
    with a fresh `x-bce-date`."""

    def __init__(self, credentials: BceCredentials, expiration: int = DEFAULT_EXPIRATION) -> None:
        self.credentials = credentials
        self.expiration = expiration

    def __call__(self, request: _Request) -> _Request:
        url = request.url or ""
        request.headers.update(
            signed_headers(self.credentials, request.method or "GET", url, expiration=self.expiration)
        )
        return request

    def __repr__(self) -> str:
        return f"BceAuth(access_key_id={self.credentials.access_key_id!r})"
