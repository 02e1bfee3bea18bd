"""Signature abuse against the emulator's bce-auth-v1 check (hypothesis-driven).

Each example signs a valid request (GET an execution, list templates, list action types) and
sends it on a keep-alive session: it must be accepted, so the attack is tested against a check
that does accept good requests. Then one part of the request or of the Authorization header is
changed after signing (method, path, query, a signed header's value, the signed-header list, the
key, the timestamp, the expiration, the signature) and the mutant must be refused *by the
signature check*: an auth error code, never 2xx, never a business answer such as 404 (which
would mean the forged request got through to the API). Replay after expiration is refused too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_oos.client.auth import format_timestamp, host_header, sign

from .figures import record
from .support import CANARY_SESSION_TOKEN, RecordingEmulator

AUTH_CODES = {
    "SignatureDoesNotMatch",
    "RequestExpired",
    "InvalidAccessKeyId",
    "InvalidHTTPAuthHeader",
    "AccessDenied",
    "InvalidSessionToken",
}
API = "/api/logic/oos"
FAST_ATTEMPTS = 300
FULL_ATTEMPTS = 5000
# What the provider signs with an STS key, and the default set (the official SDK's empty field).
SIGNED_SETS = [("host", "x-bce-date", "x-bce-security-token"), None]


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    access_key: str
    secret_key: str
    timestamp: int
    expiration: int
    signed: tuple[str, ...] | None  # None: the default set (empty signedHeaders field)
    headers: dict[str, str] = field(default_factory=dict)  # every header sent, lowercase names

    def authorization(self) -> str:
        return sign(
            self.access_key,
            self.secret_key,
            self.method,
            self.path,
            self.query,
            self.headers,
            self.timestamp,
            self.expiration,
            headers_to_sign=self.signed,
        )


@pytest.fixture(scope="module")
def sts_emulator() -> Iterator[RecordingEmulator]:
    """A dedicated emulator whose key is an STS key: requests must send and sign the token."""
    handle = RecordingEmulator(session_token=CANARY_SESSION_TOKEN, instances=["i-sig"]).start()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def execution_id(sts_emulator: RecordingEmulator) -> str:
    """A real execution to GET, created through the signed API."""
    body = json.dumps(
        {
            "template": {
                "name": "sig-target",
                "linear": True,
                "operators": [
                    {
                        "name": "reboot",
                        "operator": "BCE::BCC::RebootInstance",
                        "retries": 0,
                        "retryInterval": 1000,
                        "timeout": 60000,
                        "properties": {"instances": [{"instanceId": "i-sig"}]},
                    }
                ],
            },
            "properties": {},
        }
    ).encode()
    request = base_request(
        sts_emulator, "POST", f"{API}/v2/execution", {}, body, int(time.time()), 1800, None
    )
    response = send(requests.Session(), sts_emulator, request, request.authorization())
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


def base_request(
    emulator: RecordingEmulator,
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
    timestamp: int,
    expiration: int,
    signed: tuple[str, ...] | None,
) -> SignedRequest:
    headers = {
        "host": host_header(emulator.url),
        "x-bce-date": format_timestamp(timestamp),
        "x-bce-security-token": CANARY_SESSION_TOKEN,
    }
    if body:  # in the default signed set when present
        headers["content-type"] = "application/json;charset=utf-8"
        headers["content-length"] = str(len(body))
    return SignedRequest(
        method,
        path,
        query,
        body,
        emulator.access_key,
        emulator.secret_key,
        timestamp,
        expiration,
        signed,
        headers,
    )


def send(session: requests.Session, emulator: RecordingEmulator, request: SignedRequest, auth: str) -> Any:
    """Send exactly these bytes: path and query encoded as signed (%20, not +), only our headers."""
    from airflow_provider_oos.client.routes import query_string

    url = emulator.url + quote(request.path, safe="/") + query_string(request.query)
    prepared = requests.Request(request.method, url, data=request.body or None).prepare()
    prepared.url = url  # as built: requests must not re-encode it
    prepared.headers.clear()
    prepared.headers.update({k: v for k, v in request.headers.items() if k != "host"})
    prepared.headers["Host"] = request.headers["host"]
    prepared.headers["Authorization"] = auth
    return session.send(prepared, timeout=30)


# ---- valid requests and their mutations ------------------------------------------------------

OTHER_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def valid_requests(emulator: RecordingEmulator, execution: str) -> st.SearchStrategy[SignedRequest]:
    page = json.dumps({"pageNo": 1, "pageSize": 10, "sort": "createTime", "ascending": False}).encode()
    shapes = st.sampled_from(
        [
            ("GET", f"{API}/v2/execution", {"id": execution}, b""),
            ("POST", f"{API}/v2/template/list", {}, page),
            ("POST", f"{API}/v1/operator/list", {}, page),
        ]
    )
    return st.builds(
        lambda shape, age, expiration, signed: base_request(
            emulator, shape[0], shape[1], dict(shape[2]), shape[3], int(time.time()) - age, expiration, signed
        ),
        shapes,
        st.integers(0, 60),  # signed up to a minute ago
        st.integers(120, 3600),
        st.sampled_from(SIGNED_SETS),
    )


def _split(auth: str) -> list[str]:
    return auth.split("/")


def _with_field(auth: str, index: int, value: str) -> str:
    parts = _split(auth)
    parts[index] = value
    return "/".join(parts)


MUTATIONS = [
    "method",
    "path",
    "query-value",
    "query-extra",
    "query-drop",
    "host-header",
    "date-header",
    "token-header",
    "signed-list-drop",
    "signed-list-add",
    "access-key",
    "secret-key",
    "timestamp",
    "expiration",
    "signature",
]


def mutate(request: SignedRequest, kind: str, data: st.DataObject) -> tuple[SignedRequest, str]:
    """Return (the request as sent, the Authorization header as sent)."""
    auth = request.authorization()
    if kind == "method":
        method = data.draw(st.sampled_from([m for m in OTHER_METHODS if m != request.method]))
        return replace(request, method=method), auth
    if kind == "path":
        variant = data.draw(
            st.sampled_from(["suffix", "case", "slash", "swap-version", "dot-segment", "encoded"])
        )
        path = {
            "suffix": request.path + data.draw(st.sampled_from(["x", "/", "s", "%20"])),
            "case": request.path.replace("/oos/", "/OOS/"),
            "slash": request.path.replace("/oos/", "/oos//"),
            "swap-version": request.path.replace("/v2/", "/v1/")
            if "/v2/" in request.path
            else request.path.replace("/v1/", "/v2/"),
            "dot-segment": request.path.replace("/oos/", "/oos/./"),
            "encoded": request.path.replace("execution", "executio%6E").replace("list", "lis%74"),
        }[variant]
        return replace(request, path=path), auth
    if kind == "query-value":
        key = "id" if "id" in request.query else "pageNo"
        value = data.draw(st.text(alphabet="abcdefXYZ0123-", min_size=1, max_size=8))
        old = request.query.get(key, "")
        value = value if value != old else value + "x"
        return replace(request, query={**request.query, key: value}), auth
    if kind == "query-extra":
        key = data.draw(st.sampled_from(["x", "id2", "type", "name", "Authorization2"]))
        return replace(request, query={**request.query, key: data.draw(st.text(max_size=5))}), auth
    if kind == "query-drop":
        if not request.query:
            return replace(request, query={"id": "d-added"}), auth
        return replace(request, query={}), auth
    if kind == "host-header":
        host = data.draw(st.sampled_from(["localhost", "127.0.0.2", "oos.bj.baidubce.com"]))
        port = request.headers["host"].rsplit(":", 1)[1]
        return replace(request, headers={**request.headers, "host": f"{host}:{port}"}), auth
    if kind == "date-header":
        shift = data.draw(st.integers(1, 600)) * data.draw(st.sampled_from([-1, 1]))
        new_date = format_timestamp(request.timestamp + shift)
        return replace(request, headers={**request.headers, "x-bce-date": new_date}), auth
    if kind == "token-header":
        token = data.draw(st.sampled_from(["", CANARY_SESSION_TOKEN + "x", "STS-other"]))
        headers = {k: v for k, v in request.headers.items() if k != "x-bce-security-token"}
        if token:
            headers["x-bce-security-token"] = token
        return replace(request, headers=headers), auth
    if kind == "signed-list-drop":
        names = list(request.signed or ("host", "x-bce-date", "x-bce-security-token"))
        drop = data.draw(st.sampled_from(names))
        kept = ";".join(n for n in names if n != drop)
        return request, _with_field(auth, 4, kept)
    if kind == "signed-list-add":
        names = list(request.signed or ("host", "x-bce-date", "x-bce-security-token"))
        extra = data.draw(st.sampled_from(["content-type", "x-bce-request-id", "user-agent"]))
        headers = {**request.headers, "x-bce-request-id": "abc", "user-agent": "ua"}
        if "content-type" not in headers:
            headers["content-type"] = "text/plain"
        return replace(request, headers=headers), _with_field(auth, 4, ";".join(sorted({*names, extra})))
    if kind == "access-key":
        other = data.draw(
            st.sampled_from(["unknown-ak", request.access_key + "x", request.access_key.upper()])
        )
        return request, _with_field(auth, 1, other)
    if kind == "secret-key":
        wrong = data.draw(st.text(min_size=1, max_size=20).filter(lambda s: s != request.secret_key))
        return request, replace(request, secret_key=wrong).authorization()
    if kind == "timestamp":
        shift = data.draw(st.integers(1, 600)) * data.draw(st.sampled_from([-1, 1]))
        return request, _with_field(auth, 2, format_timestamp(request.timestamp + shift))
    if kind == "expiration":
        new = data.draw(st.integers(60, 100_000).filter(lambda e: e != request.expiration))
        return request, _with_field(auth, 3, str(new))
    if kind == "signature":
        signature = _split(auth)[5]
        position = data.draw(st.integers(0, 63))
        flipped = "0" if signature[position] != "0" else "1"
        return request, _with_field(auth, 5, signature[:position] + flipped + signature[position + 1 :])
    raise AssertionError(kind)


class Tally:
    def __init__(self) -> None:
        self.valid_accepted = 0
        self.forgeries_sent = 0
        self.forgeries_accepted = 0
        self.by_kind: dict[str, int] = {}


def refused_by_auth(response: Any) -> bool:
    if response.status_code < 400:
        return False
    try:
        code = response.json().get("code")
    except ValueError:
        return False
    return code in AUTH_CODES


def check_attempt(
    session: requests.Session,
    emulator: RecordingEmulator,
    request: SignedRequest,
    kind: str,
    data: st.DataObject,
    tally: Tally,
) -> None:
    good = send(session, emulator, request, request.authorization())
    assert good.status_code == 200, f"the unmodified request was refused: {good.status_code} {good.text}"
    tally.valid_accepted += 1
    forged, auth = mutate(request, kind, data)
    response = send(session, emulator, forged, auth)
    tally.forgeries_sent += 1
    tally.by_kind[kind] = tally.by_kind.get(kind, 0) + 1
    in_signed_area = forged.path.startswith(API + "/")  # the gateway checks every path below it
    if response.status_code < 400 or (in_signed_area and not refused_by_auth(response)):
        tally.forgeries_accepted += 1
        raise AssertionError(
            f"forgery not refused by the signature check ({kind}): {forged.method} {forged.path} "
            f"{forged.query} -> {response.status_code} {response.text[:200]}"
        )


def run_abuse(emulator: RecordingEmulator, execution: str, attempts: int) -> Tally:
    """`attempts` forgeries spread evenly over every mutation kind (a run per kind, so a small
    run still tries each kind: hypothesis does not draw `sampled_from` values uniformly)."""
    tally = Tally()
    session = requests.Session()  # keep-alive: one connection for thousands of attempts

    def run_kind(kind: str) -> None:
        @settings(
            max_examples=-(-attempts // len(MUTATIONS)),  # ceil: at least `attempts` in all
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            database=None,
        )
        @given(valid_requests(emulator, execution), st.data())
        def attempt(request: SignedRequest, data: st.DataObject) -> None:
            check_attempt(session, emulator, request, kind, data, tally)

        attempt()

    for kind in MUTATIONS:
        run_kind(kind)
    session.close()
    return tally


def report(tally: Tally, started: float) -> None:
    record(
        "signature abuse",
        valid_requests_accepted=tally.valid_accepted,
        forgeries_sent=tally.forgeries_sent,
        forgeries_accepted=tally.forgeries_accepted,
        mutation_kinds=len(tally.by_kind),
        seconds=round(time.monotonic() - started, 1),
    )


def test_signature_abuse_fast(sts_emulator: RecordingEmulator, execution_id: str) -> None:
    started = time.monotonic()
    tally = run_abuse(sts_emulator, execution_id, FAST_ATTEMPTS)
    report(tally, started)
    assert tally.forgeries_accepted == 0
    assert tally.forgeries_sent >= FAST_ATTEMPTS * 0.9  # hypothesis may stop a little early
    assert set(tally.by_kind) == set(MUTATIONS), "every mutation kind was tried"


@pytest.mark.reliability
def test_signature_abuse_full(sts_emulator: RecordingEmulator, execution_id: str) -> None:
    started = time.monotonic()
    tally = run_abuse(sts_emulator, execution_id, FULL_ATTEMPTS)
    report(tally, started)
    assert tally.forgeries_accepted == 0
    assert tally.forgeries_sent >= FULL_ATTEMPTS
    assert set(tally.by_kind) == set(MUTATIONS)


def test_replay_after_expiration_is_refused(sts_emulator: RecordingEmulator, execution_id: str) -> None:
    session = requests.Session()
    # 1. signed with a 2 s lifetime: accepted now, the very same bytes refused once it expired
    fresh = base_request(
        sts_emulator, "GET", f"{API}/v2/execution", {"id": execution_id}, b"", int(time.time()), 2, None
    )
    auth = fresh.authorization()
    first = send(session, sts_emulator, fresh, auth)
    assert first.status_code == 200, first.text
    time.sleep(3.1)
    replayed = send(session, sts_emulator, fresh, auth)
    assert replayed.status_code == 400 and replayed.json()["code"] == "RequestExpired", replayed.text
    # 2. a captured request replayed long after its default 1800 s lifetime
    old = base_request(
        sts_emulator,
        "GET",
        f"{API}/v2/execution",
        {"id": execution_id},
        b"",
        int(time.time()) - 1801,
        1800,
        None,
    )
    stale = send(session, sts_emulator, old, old.authorization())
    assert stale.status_code == 400 and stale.json()["code"] == "RequestExpired", stale.text
    record("signature abuse", expired_replays_refused=2)
