"""bce-auth-v1 signing: the official vectors, and agreement with the official SDK's signer.

The SDK (`bce-python-sdk`) is a test-only oracle. Driving it like its own client does:
it wants bytes; its canonical URI is the path exactly as given, which its client first
normalizes with `utils.normalize_string(path, False)` (percent-encode all but `/`); with an
explicit header list it still signs every `x-bce-*` header, so explicit sets here always
include them; with the default set it writes an empty signed-headers field, so only the
signature part is compared. Its query canonicalization never skips an `authorization` key
(`k.lower != ...` compares a method), so generated queries do not use that key.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from baidubce import utils as sdk_utils
from baidubce.auth.bce_credentials import BceCredentials as SdkCredentials
from baidubce.auth.bce_v1_signer import sign as sdk_sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_oos.client.auth import (
    BceAuth,
    BceCredentials,
    canonical_headers,
    encode,
    format_timestamp,
    host_header,
    sign,
    signed_headers,
)

AK, SK, TS = "my_ak", "my_sk", 1402639056

V1 = (
    "bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/host;x-bce-meta-key1/"
    "80c9672aca2ea9af4bb40b9a8ff458d72df94e97d550840727f3a929af271d25"
)
V2 = (
    "bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/content-length;content-type/"
    "c9386b15d585960ae5e6972f73ed92a9a682dc81025480ba5b41206d3e489822"
)


def test_official_vector_v1() -> None:
    headers = {"Host": "bce.baidu.com", "abc": "123", "x-bce-meta-key1": "ABC"}
    query = {"A": None, "b": "", "C": "d"}
    assert sign(AK, SK, "PUT", "/v1/bucket/object1", query, headers, TS) == V1


def test_official_vector_v2() -> None:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": 0,
        "User-Agent": "This is the user-agent",
    }
    assert sign(AK, SK, "DELETE", "/v1/test-bucket1361199862", None, headers, TS) == V2


def test_official_encoding_vector() -> None:
    assert (
        encode("!'()*this is an example for 测试")
        == "%21%27%28%29%2Athis%20is%20an%20example%20for%20%E6%B5%8B%E8%AF%95"
    )


def test_vectors_also_match_the_sdk() -> None:
    """The oracle is driven right: it reproduces the same vectors."""
    creds = SdkCredentials(AK, SK)
    v1 = sdk_sign(
        creds,
        b"PUT",
        b"/v1/bucket/object1",
        {b"Host": b"bce.baidu.com", b"abc": b"123", b"x-bce-meta-key1": b"ABC"},
        {b"A": None, b"b": b"", b"C": b"d"},
        TS,
    )
    assert v1.decode().rsplit("/", 1)[1] == V1.rsplit("/", 1)[1]


def test_timestamp_forms_agree_and_naive_datetime_is_rejected() -> None:
    aware = datetime(2014, 6, 13, 5, 57, 36, tzinfo=timezone.utc)
    assert format_timestamp(TS) == format_timestamp(aware) == "2014-06-13T05:57:36Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2014, 6, 13))


def test_header_values_are_trimmed_of_ascii_whitespace_only() -> None:
    block, names = canonical_headers(
        {" X-Bce-A ": " \t v \n", "x-bce-b": "\u00a0w\u00a0", "x-bce-c": "  "}, None
    )
    assert block == "x-bce-a:v\nx-bce-b:%C2%A0w%C2%A0"
    assert names == ["x-bce-a", "x-bce-b"]


def test_host_header_drops_default_ports_only() -> None:
    assert host_header("https://oos.bj.baidubce.com/x") == "oos.bj.baidubce.com"
    assert host_header("https://oos.bj.baidubce.com:443/x") == "oos.bj.baidubce.com"
    assert host_header("http://127.0.0.1:8765/x") == "127.0.0.1:8765"
    assert host_header("http://[::1]:8080/") == "[::1]:8080"


def test_signed_headers_signs_host_date_and_sts_token() -> None:
    creds = BceCredentials("ak", "sk", session_token="sts-token")
    url = "http://127.0.0.1:8765/api/logic/oos/v2/execution?id=d-1"
    headers = signed_headers(creds, "GET", url, timestamp=TS)
    assert headers["x-bce-date"] == "2014-06-13T05:57:36Z"
    assert headers["x-bce-security-token"] == "sts-token"
    expected = sign(
        "ak",
        "sk",
        "GET",
        "/api/logic/oos/v2/execution",
        {"id": "d-1"},
        {"host": "127.0.0.1:8765", "x-bce-date": headers["x-bce-date"], "x-bce-security-token": "sts-token"},
        TS,
        headers_to_sign=["host", "x-bce-date", "x-bce-security-token"],
    )
    assert headers["Authorization"] == expected
    assert "/host;x-bce-date;x-bce-security-token/" in expected


def test_bce_auth_signs_each_request_with_a_fresh_date_and_hides_the_secret() -> None:
    auth = BceAuth(BceCredentials("ak", "secret-value"))
    first = auth(requests.Request("GET", "http://h:1/p?a=b").prepare())
    time.sleep(1.05)
    second = auth(requests.Request("GET", "http://h:1/p?a=b").prepare())
    assert first.headers["x-bce-date"] != second.headers["x-bce-date"]
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert "secret-value" not in repr(auth)
    assert "secret-value" not in repr(auth.credentials)


# ---- agreement with the official SDK over generated requests ---------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_reserved = st.sampled_from([*"!*'();:@&=+$,/?#[]% ~-_.", "测", "é", "\u00a0", "\t"])
_path_text = st.lists(st.one_of(_text, _reserved), max_size=6).map("".join)
_query_key = st.one_of(_text, _reserved).filter(lambda key: key.lower() != "authorization")
_query_value = st.one_of(st.none(), st.just(""), _text, _reserved)
_header_name = st.builds(
    lambda prefix, body, pad: pad + prefix + body + pad,
    st.sampled_from(["", "x-bce-", "X-Bce-", "X-BCE-META-"]),
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=10),
    st.sampled_from(["", " ", "\t"]),
)
_standard_header = st.sampled_from(["Host", "Content-Type", "content-length", "Content-MD5", "User-Agent"])
_header_value = st.builds(
    lambda pad_left, body, pad_right: pad_left + body + pad_right,
    st.sampled_from(["", " ", "  ", "\t"]),
    st.one_of(_text, st.integers(0, 10**6).map(str)),
    st.sampled_from(["", " ", "\t ", "\n"]),
)
_cases = {"count": 0}


def _sdk_authorization(
    method: str,
    path: str,
    query: dict[str, str | None],
    headers: dict[str, str],
    timestamp: int,
    expiration: int,
    headers_to_sign: list[str] | None,
) -> str:
    result = sdk_sign(
        SdkCredentials("gen-ak", "gen-sk"),
        method.encode(),
        sdk_utils.normalize_string(path.encode(), False),  # what the SDK client does to a path
        {name.encode(): value.encode() for name, value in headers.items()},
        {key.encode(): None if value is None else value.encode() for key, value in query.items()},
        timestamp,
        expiration,
        [name.encode() for name in headers_to_sign] if headers_to_sign is not None else None,
    )
    return str(result.decode())


_request = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]),
        "path": _path_text.map(lambda p: "/" + p),
        "query": st.dictionaries(_query_key, _query_value, max_size=5),
        "headers": st.dictionaries(st.one_of(_header_name, _standard_header), _header_value, max_size=6),
        "timestamp": st.integers(1, 2**31 - 1),
        "expiration": st.sampled_from([1800, 60, 3600, 86400]),
        "explicit": st.one_of(st.none(), st.sets(st.one_of(_header_name, _standard_header), max_size=4)),
    }
)


# Batches of requests per example: the same coverage with far less per-example overhead.
@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(batch=st.lists(_request, min_size=8, max_size=8))
def _agree_with_sdk(batch: list[dict[str, Any]]) -> None:
    for case in batch:
        _check_one(**case)


def _check_one(
    method: str,
    path: str,
    query: dict[str, str | None],
    headers: dict[str, str],
    timestamp: int,
    expiration: int,
    explicit: set[str] | None,
) -> None:
    _cases["count"] += 1
    to_sign: list[str] | None = None
    if explicit is not None:
        # The SDK signs every x-bce-* header even when not listed: list them so both agree.
        names = {name.strip(" \t").lower() for name in explicit}
        names |= {
            name.strip(" \t").lower() for name in headers if name.strip(" \t").lower().startswith("x-bce-")
        }
        to_sign = sorted(names) or None
    ours = sign("gen-ak", "gen-sk", method, path, query, headers, timestamp, expiration, to_sign)
    theirs = _sdk_authorization(method, path, query, headers, timestamp, expiration, to_sign)
    assert ours.rsplit("/", 1)[1] == theirs.rsplit("/", 1)[1], (method, path, query, headers, to_sign)
    assert ours.split("/")[:4] == theirs.split("/")[:4]


def test_signature_agrees_with_the_official_sdk_on_generated_requests() -> None:
    _cases["count"] = 0
    _agree_with_sdk()
    assert _cases["count"] >= 2000


# ---- the per-second signing-key cache --------------------------------------------------------


def test_signing_key_cache_gives_the_same_signature_as_a_fresh_derivation() -> None:
    from airflow_provider_oos.client import auth

    headers = {"Host": "bce.baidu.com", "abc": "123", "x-bce-meta-key1": "ABC"}
    query = {"A": None, "b": "", "C": "d"}
    auth._SIGNING_KEYS._entry = None  # cold: derives the key
    assert sign(AK, SK, "PUT", "/v1/bucket/object1", query, headers, TS) == V1
    assert auth._SIGNING_KEYS._entry is not None  # warm: the same second reuses it
    assert sign(AK, SK, "PUT", "/v1/bucket/object1", query, headers, TS) == V1
    # Another request in the same second, then the second vector's request: both still exact.
    other = sign(AK, SK, "GET", "/v1/bucket/object2", None, headers, TS)
    assert other != V1 and other.startswith("bce-auth-v1/my_ak/2014-06-13T05:57:36Z/1800/")
    headers_v2 = {"Content-Type": "application/json; charset=utf-8", "Content-Length": 0}
    assert sign(AK, SK, "DELETE", "/v1/test-bucket1361199862", None, headers_v2, TS) == V2


def test_signing_key_cache_is_keyed_by_secret_key_timestamp_and_expiration() -> None:
    headers = {"host": "h", "x-bce-date": "2014-06-13T05:57:36Z"}
    base = sign(AK, SK, "GET", "/p", None, headers, TS)
    # Each differs from the cached entry in one input the signing key depends on.
    other_secret = sign(AK, "other-sk", "GET", "/p", None, headers, TS)
    next_second = sign(AK, SK, "GET", "/p", None, headers, TS + 1)
    other_expiration = sign(AK, SK, "GET", "/p", None, headers, TS, expiration=60)
    signatures = [value.rsplit("/", 1)[1] for value in (base, other_secret, next_second, other_expiration)]
    assert len(set(signatures)) == 4
    # Going back to the first inputs gives the first answer again (nothing stale is reused).
    assert sign(AK, SK, "GET", "/p", None, headers, TS) == base
    sdk = sdk_sign(SdkCredentials(AK, "other-sk"), b"GET", b"/p", {b"host": b"h"}, None, TS, 1800, [b"host"])
    ours = sign(AK, "other-sk", "GET", "/p", None, {"host": "h"}, TS, headers_to_sign=["host"])
    assert ours.rsplit("/", 1)[1] == sdk.decode().rsplit("/", 1)[1]


def test_signing_key_cache_never_shows_the_secret_or_the_key() -> None:
    from airflow_provider_oos.client import auth

    sign("ak", "top-secret-sk", "GET", "/p", None, {"host": "h"}, TS)
    shown = repr(auth._SIGNING_KEYS) + str(auth._SIGNING_KEYS)
    assert "top-secret-sk" not in shown
    signing_key = hmac_hex(b"top-secret-sk", f"bce-auth-v1/ak/{format_timestamp(TS)}/1800".encode())
    assert signing_key not in shown
    assert repr(auth._SIGNING_KEYS) == "_SigningKeyCache()"


def hmac_hex(key: bytes, message: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(key, message, hashlib.sha256).hexdigest()
