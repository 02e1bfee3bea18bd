"""Server side of bce-auth-v1: recompute the signature of an incoming request, as the BCE gateway does.

Pure functions over plain values (no HTTP framework), so the gateway middleware stays thin.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from airflow_provider_oos.client.auth import AUTH_VERSION, SECURITY_TOKEN_HEADER, sign

# How far in the future a request timestamp may be (clock skew between client and server).
MAX_FUTURE_SKEW_SECONDS = 15 * 60
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@dataclass(frozen=True)
class KeyPair:
    """A key the emulator accepts; `session_token` set means an STS key that must send its token."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # secrets stay out of logs
        return f"KeyPair(access_key={self.access_key!r})"


class AuthRejected(Exception):
    """The request is refused; `status`/`code` follow the BCE common error table."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AuthorizationHeader:
    access_key: str
    timestamp: str
    expiration: int
    signed_headers: tuple[str, ...]  # empty = the default set
    signature: str


def parse_authorization(value: str | None) -> AuthorizationHeader:
    if not value:
        raise AuthRejected(403, "AccessDenied", "Access denied: the request carries no Authorization header.")
    parts = value.strip().split("/")
    if len(parts) != 6 or parts[0] != AUTH_VERSION:
        raise AuthRejected(
            400,
            "InvalidHTTPAuthHeader",
            "The Authorization header must look like "
            "bce-auth-v1/{accessKeyId}/{timestamp}/{expirationSeconds}/{signedHeaders}/{signature}.",
        )
    _, access_key, timestamp, expiration, headers_field, signature = parts
    if not access_key or not _TIMESTAMP_RE.match(timestamp) or not expiration.isdigit():
        raise AuthRejected(
            400,
            "InvalidHTTPAuthHeader",
            "The Authorization header has an empty access key, a timestamp not in YYYY-MM-DDTHH:MM:SSZ "
            "form, or a non-numeric expiration.",
        )
    if not _SIGNATURE_RE.match(signature):
        raise AuthRejected(
            400, "InvalidHTTPAuthHeader", "The signature in the Authorization header is not 64 hex digits."
        )
    names = tuple(name for name in headers_field.split(";") if name) if headers_field else ()
    return AuthorizationHeader(access_key, timestamp, int(expiration), names, signature)


def parse_query(raw: bytes | str) -> dict[str, str]:
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return dict(parse_qsl(text, keep_blank_values=True))


def verify(
    keys: Mapping[str, KeyPair],
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    now: float | None = None,
) -> KeyPair:
    """Check a request; return the key it was signed with or raise `AuthRejected`.

    `path` is the decoded URI path, `headers` has lowercase names.
    """
    auth = parse_authorization(headers.get("authorization"))
    key = keys.get(auth.access_key)
    if key is None:
        raise AuthRejected(
            403, "InvalidAccessKeyId", "The Access Key ID you provided does not exist in our records."
        )
    signed_at = calendar.timegm(time.strptime(auth.timestamp, "%Y-%m-%dT%H:%M:%SZ"))
    current = time.time() if now is None else now
    if current > signed_at + auth.expiration:
        raise AuthRejected(400, "RequestExpired", f"Request has expired. Timestamp date is {auth.timestamp}.")
    if signed_at > current + MAX_FUTURE_SKEW_SECONDS:
        raise AuthRejected(
            400,
            "RequestExpired",
            f"Request timestamp {auth.timestamp} is more than 15 minutes in the future; check the clock.",
        )
    expected = sign(
        key.access_key,
        key.secret_key,
        method,
        path,
        query,
        headers,
        signed_at,
        auth.expiration,
        headers_to_sign=auth.signed_headers or None,
    )
    if not hmac.compare_digest(expected.rsplit("/", 1)[1], auth.signature):
        raise AuthRejected(
            400,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if key.session_token is not None:
        _check_session_token(key, auth, headers)
    return key


def _check_session_token(key: KeyPair, auth: AuthorizationHeader, headers: Mapping[str, str]) -> None:
    token = headers.get(SECURITY_TOKEN_HEADER, "")
    # With the default set every x-bce-* header is signed; an explicit list must name the token.
    signed = not auth.signed_headers or SECURITY_TOKEN_HEADER in auth.signed_headers
    assert key.session_token is not None
    if not token or not signed:
        raise AuthRejected(
            403,
            "AccessDenied",
            f"Access key {key.access_key} is an STS key: send header {SECURITY_TOKEN_HEADER} and sign it.",
        )
    if not hmac.compare_digest(token.encode(), key.session_token.encode()):
        raise AuthRejected(403, "InvalidSessionToken", "The security token in the request is not valid.")
