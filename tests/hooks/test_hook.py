"""OosHook against a real local HTTP server that verifies signatures and counts requests."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos import __version__
from airflow_provider_oos.client.models import Execution, OperatorPage, Template, TemplateCheck, TemplatePage
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosConnectionError,
    OosNotFoundError,
    OosThrottledError,
)
from airflow_provider_oos.hooks.oos import OosHook
from tests.support.oos_server import SECRET_KEY, SESSION_TOKEN, Reply, ScriptedOosServer, free_port

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

SEED = json.loads((Path(__file__).parents[1] / "support" / "seed_get_execution.json").read_text())
INLINE = {
    "name": "stop-web",
    "operators": [
        {
            "name": "stop_bcc",
            "operator": "BCE::BCC::StopInstance",
            "properties": {"instances": [{"instanceId": "i-1"}]},
        }
    ],
}


def without_create_token(body: dict[str, Any]) -> dict[str, Any]:
    """The create body without the create token tag every create carries (exactly one of it)."""
    tokens = [t for t in body["tags"] if t["tagKey"] == "airflow-create-token"]
    assert len(tokens) == 1 and len(tokens[0]["tagValue"]) == 32
    return {**body, "tags": [t for t in body["tags"] if t["tagKey"] != "airflow-create-token"]}


@pytest.fixture
def hook(hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer) -> OosHook:
    return hook_factory(oos_server, max_retries=3)


# ---- every endpoint: method, path, query, body, result -----------------------------------------


def test_create_execution_inline_sends_a_complete_template(
    hook: OosHook, oos_server: ScriptedOosServer
) -> None:
    oos_server.script("POST", "/v2/execution", Reply.ok({"id": "d-new"}))
    execution_id = hook.create_execution(
        INLINE, properties={"p": 1}, description="nightly", tags={"team": "ops"}
    )
    assert execution_id == "d-new"
    (call,) = oos_server.calls("POST", "/v2/execution")
    assert call.signature_ok and call.signed_header_names == ["host", "x-bce-date"]
    assert call.headers["content-type"] == "application/json;charset=utf-8"
    assert without_create_token(call.json) == {
        "template": {
            "name": "stop-web",
            "linear": True,
            "operators": [
                {
                    "name": "stop_bcc",
                    "operator": "BCE::BCC::StopInstance",
                    "properties": {"instances": [{"instanceId": "i-1"}]},
                    "retries": 0,
                    "retryInterval": 60000,
                    "timeout": 3600000,
                }
            ],
        },
        "properties": {"p": 1},
        "description": "nightly",
        "tags": [{"tagKey": "team", "tagValue": "ops"}],  # execution tags: the published shape
    }


def test_create_execution_by_reference(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("POST", "/v2/execution", Reply.ok({"id": "d-ref"}))
    assert (
        hook.create_execution(Template(ref="tpl-1", name="stop-web"), tags=[{"key": "k", "value": "v"}])
        == "d-ref"
    )
    assert without_create_token(oos_server.calls("POST", "/v2/execution")[0].json) == {
        "template": {"ref": "tpl-1", "name": "stop-web"},
        "properties": {},
        "tags": [{"tagKey": "k", "tagValue": "v"}],
    }


def test_get_execution(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("GET", "/v2/execution", Reply(json=SEED))
    execution = hook.get_execution("d-*********34r")
    assert isinstance(execution, Execution) and execution.to_api() == SEED["result"]
    (call,) = oos_server.calls("GET", "/v2/execution")
    assert call.query == {"id": "d-*********34r"} and call.body == b"" and call.signature_ok


def test_template_calls(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("POST", "/v2/template", Reply.ok({"id": "tpl-9"}))
    oos_server.script("POST", "/v2/template/check", Reply.ok({"isValid": False, "reason": "bad step"}))
    oos_server.script(
        "GET", "/v2/template", Reply.ok({"id": "tpl-9", "name": "stop web", "type": "INDIVIDUAL"})
    )
    oos_server.script(
        "POST", "/v2/template/list", Reply.ok({"templates": [{"id": "tpl-9"}], "pageNo": 2, "totalCount": 11})
    )
    oos_server.script(
        "POST", "/v1/operator/list", Reply.ok({"operators": [{"name": "BCE::BCC::StopInstance"}]})
    )

    assert hook.create_template(INLINE) == "tpl-9"
    check = hook.check_template(INLINE)
    assert isinstance(check, TemplateCheck) and not check.ok and check.reason == "bad step"
    assert hook.update_template({**INLINE, "id": "tpl-9"}) is None
    assert hook.delete_template("tpl-9") is None
    template = hook.get_template("stop web", "INDIVIDUAL")
    assert isinstance(template, Template) and template.id == "tpl-9"
    templates = hook.list_templates(
        page_no=2, page_size=5, name="stop", template_type="GLOBAL", ascending=True
    )
    assert isinstance(templates, TemplatePage) and templates.total_count == 11
    operators = hook.list_operators(page_size=1)
    assert isinstance(operators, OperatorPage) and operators.operators[0].name == "BCE::BCC::StopInstance"

    seen = [(r.method, r.path, r.query) for r in oos_server.requests]
    assert seen == [
        ("POST", "/api/logic/oos/v2/template", {}),
        ("POST", "/api/logic/oos/v2/template/check", {}),
        ("PUT", "/api/logic/oos/v2/template", {}),
        ("DELETE", "/api/logic/oos/v2/template", {"id": "tpl-9"}),
        ("GET", "/api/logic/oos/v2/template", {"name": "stop web", "type": "INDIVIDUAL"}),
        ("POST", "/api/logic/oos/v2/template/list", {}),
        ("POST", "/api/logic/oos/v1/operator/list", {}),
    ]
    assert all(r.signature_ok for r in oos_server.requests)
    assert oos_server.requests[2].json["id"] == "tpl-9"
    assert oos_server.requests[5].json == {
        "pageNo": 2,
        "pageSize": 5,
        "sort": "createTime",
        "ascending": True,
        "name": "stop",
        "type": "GLOBAL",
    }
    assert oos_server.requests[6].json == {
        "pageNo": 1,
        "pageSize": 1,
        "sort": "createTime",
        "ascending": False,
    }


def test_get_template_absent_is_not_found(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("GET", "/v2/template", Reply.ok(None))
    with pytest.raises(OosNotFoundError, match="'nope'"):
        hook.get_template("nope")


def test_get_execution_absent_is_not_found(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("GET", "/v2/execution", Reply.ok(None))
    with pytest.raises(OosNotFoundError, match="d-gone"):
        hook.get_execution("d-gone")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda h: h.create_execution({"name": "x"}), "either ref"),
        (lambda h: h.create_execution({"name": "x", "operators": [{"name": "a"}]}), "operator"),
        (lambda h: h.create_execution("not a template"), "Template or a dict"),
        (lambda h: h.create_execution(INLINE, tags="k=v"), "tags"),
        (lambda h: h.create_template({"operators": INLINE["operators"]}), "template.name"),
        (lambda h: h.create_template({**INLINE, "linear": False}), "template.links"),
        (
            lambda h: h.create_template({"name": "x", "operators": INLINE["operators"] * 2}),
            "used twice",
        ),
        (lambda h: h.update_template(INLINE), "template.id"),
        (lambda h: h.get_execution(""), "execution_id"),
        (lambda h: h.delete_template(None), "template_id"),
        (lambda h: h.get_template("x", "PUBLIC"), "template_type"),
        (lambda h: h.list_templates(page_size=101), "page_size"),
        (lambda h: h.list_operators(page_no=0), "page_no"),
    ],
)
def test_bad_input_fails_before_any_call(
    hook: OosHook, oos_server: ScriptedOosServer, call: Any, message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call(hook)
    assert oos_server.requests == []


# ---- every response shape -> the right exception, with the request id --------------------------


@pytest.mark.parametrize(
    ("reply", "kind", "status", "code", "request_id"),
    [
        (
            Reply(json={"success": False, "msg": "template invalid", "code": 400, "result": None}),
            OosApiError,
            200,
            400,
            "header",
        ),
        (Reply(json={"success": False, "msg": "no such", "code": 404}), OosNotFoundError, 200, 404, "header"),
        (Reply.bce_error(403, "InvalidAccessKeyId"), OosAuthError, 403, "InvalidAccessKeyId", "header"),
        (Reply.bce_error(400, "MalformedJSON"), OosApiError, 400, "MalformedJSON", "header"),
        (
            Reply(status=404, json={"success": False, "msg": "execution not found", "code": 404}),
            OosNotFoundError,
            404,
            404,
            "header",
        ),
        (
            Reply(status=500, json={"success": False, "msg": "internal", "code": 500}),
            OosApiError,
            500,
            500,
            "header",
        ),
        (
            Reply(
                status=502,
                body=b"<html><body>Bad Gateway</body></html>",
                headers={"Content-Type": "text/html"},
            ),
            OosApiError,
            502,
            None,
            "header",
        ),
        (Reply(status=200, body=b""), OosApiError, 200, None, "header"),
        (Reply(status=200, body=b'{"success": true, "result": {"id": "d-'), OosApiError, 200, None, "header"),
        (Reply(status=200, json=["not", "an", "envelope"]), OosApiError, 200, None, "header"),
        (Reply.bce_error(429, "TooManyRequests"), OosThrottledError, 429, "TooManyRequests", "header"),
        (
            Reply(
                status=403,
                json={"code": "AccessDenied", "message": "denied", "requestId": "rid-from-body"},
                headers={"x-bce-request-id": None},  # type: ignore[dict-item]
            ),
            OosAuthError,
            403,
            "AccessDenied",
            "rid-from-body",
        ),
        (
            Reply(status=500, body=b"", headers={"x-bce-request-id": None}),  # type: ignore[dict-item]
            OosApiError,
            500,
            None,
            "sent",
        ),
    ],
)
def test_response_shapes_map_to_exceptions(
    hook_factory: Callable[..., OosHook],
    oos_server: ScriptedOosServer,
    reply: Reply,
    kind: type[OosApiError],
    status: int,
    code: Any,
    request_id: str,
) -> None:
    hook = hook_factory(oos_server, max_retries=0)
    oos_server.script("GET", "/v2/execution", reply)
    with pytest.raises(OosApiError) as caught:
        hook.get_execution("d-1")
    error = caught.value
    assert type(error) is kind
    assert (error.status, error.code) == (status, code)
    sent_id = oos_server.requests[-1].headers["x-bce-request-id"]
    expected_id = {"header": sent_id, "sent": sent_id}.get(request_id, request_id)
    assert error.request_id == expected_id
    assert expected_id in str(error) and "GET /api/logic/oos/v2/execution" in str(error)


def test_server_request_id_header_wins_over_body(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=0)
    reply = Reply(
        status=400,
        json={"code": "Bad", "message": "x", "requestId": "body-id"},
        headers={"x-bce-request-id": "srv-id"},
    )
    oos_server.script("GET", "/v2/execution", reply)
    with pytest.raises(OosApiError) as caught:
        hook.get_execution("d-1")
    assert caught.value.request_id == "srv-id"


# ---- retry and no-retry rules, counted on the server ------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_execution_hit_by_5xx_is_sent_exactly_once(
    hook: OosHook, oos_server: ScriptedOosServer, status: int
) -> None:
    oos_server.script(
        "POST", "/v2/execution", Reply(status=status, json={"success": False, "msg": "x", "code": status})
    )
    with pytest.raises(OosApiError) as caught:
        hook.create_execution(INLINE)
    assert caught.value.status == status
    assert len(oos_server.calls("POST", "/v2/execution")) == 1


def test_create_execution_after_read_timeout_is_not_resent(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, timeout=0.3, max_retries=3)
    oos_server.script("POST", "/v2/execution", Reply.ok({"id": "d-late"}, delay=0.8))
    with pytest.raises(OosConnectionError) as caught:
        hook.create_execution(INLINE)
    assert caught.value.request_sent and caught.value.status is None
    time.sleep(0.6)
    assert len(oos_server.calls("POST", "/v2/execution")) == 1


def test_create_execution_after_dropped_connection_is_not_resent(
    hook: OosHook, oos_server: ScriptedOosServer
) -> None:
    oos_server.script("POST", "/v2/execution", Reply(drop=True))
    with pytest.raises(OosConnectionError) as caught:
        hook.create_execution(INLINE)
    assert caught.value.request_sent
    assert len(oos_server.calls("POST", "/v2/execution")) == 1


@pytest.mark.parametrize(
    "first",
    [
        Reply.bce_error(429, "TooManyRequests"),
        Reply.bce_error(400, "RequestExpired"),
        Reply.bce_error(403, "SignatureDoesNotMatch"),
    ],
    ids=["429", "RequestExpired", "SignatureDoesNotMatch"],
)
def test_create_execution_rejected_before_processing_is_resent(
    hook: OosHook, oos_server: ScriptedOosServer, first: Reply
) -> None:
    oos_server.script("POST", "/v2/execution", first, Reply.ok({"id": "d-2nd"}))
    assert hook.create_execution(INLINE) == "d-2nd"
    calls = oos_server.calls("POST", "/v2/execution")
    assert len(calls) == 2
    assert calls[0].headers["x-bce-request-id"] != calls[1].headers["x-bce-request-id"]


def test_signature_mismatch_is_retried_only_once(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    bad = Reply.bce_error(403, "SignatureDoesNotMatch")
    oos_server.script("GET", "/v2/execution", bad, copy.deepcopy(bad), copy.deepcopy(bad))
    with pytest.raises(OosAuthError):
        hook.get_execution("d-1")
    assert len(oos_server.calls("GET", "/v2/execution")) == 2


def test_create_execution_retried_when_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nobody listens yet: the first attempts are refused, so never sent
    conn = {
        "conn_type": "baidu_oos",
        "login": "test-ak",
        "password": SECRET_KEY,
        "host": f"http://127.0.0.1:{port}",
        "extra": {"max_retries": 40, "retry_wait_min": 0.02, "retry_wait_max": 0.05, "timeout": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_OOS_LATE", json.dumps(conn))
    late = ScriptedOosServer(access_key="test-ak", secret_key=SECRET_KEY, port=port)
    late.script("POST", "/v2/execution", Reply.ok({"id": "d-after-refusal"}))
    starter = threading.Timer(0.3, late.__enter__)
    starter.start()
    try:
        assert OosHook(oos_conn_id="oos_late").create_execution(INLINE) == "d-after-refusal"
    finally:
        starter.join()
        late.__exit__()
    assert len(late.calls("POST", "/v2/execution")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_execution_retries_transient_statuses(
    hook: OosHook, oos_server: ScriptedOosServer, status: int
) -> None:
    oos_server.script("GET", "/v2/execution", Reply(status=status, body=b"busy"), Reply(json=SEED))
    assert hook.get_execution("d-1").state == "SUCCESS"
    calls = oos_server.calls("GET", "/v2/execution")
    assert len(calls) == 2
    assert calls[0].headers["x-bce-request-id"] != calls[1].headers["x-bce-request-id"]


def test_get_execution_retries_a_read_timeout(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, timeout=0.3, max_retries=2)
    oos_server.script("GET", "/v2/execution", Reply(json=SEED, delay=0.6), Reply(json=SEED))
    assert hook.get_execution("d-1").id == SEED["result"]["id"]
    assert len(oos_server.calls("GET", "/v2/execution")) == 2


def test_read_retries_are_bounded(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("GET", "/v2/execution", *[Reply(status=503, body=b"") for _ in range(10)])
    with pytest.raises(OosApiError) as caught:
        hook.get_execution("d-1")
    assert caught.value.status == 503
    assert len(oos_server.calls("GET", "/v2/execution")) == 4  # max_retries=3


@pytest.mark.parametrize(
    "reply",
    [Reply.bce_error(400, "InappropriateJSON"), Reply.bce_error(403, "AccessDenied")],
    ids=["400", "403"],
)
def test_client_errors_are_not_retried(hook: OosHook, oos_server: ScriptedOosServer, reply: Reply) -> None:
    oos_server.script("GET", "/v2/execution", reply)
    with pytest.raises(OosApiError):
        hook.get_execution("d-1")
    assert len(oos_server.calls("GET", "/v2/execution")) == 1


# ---- headers: fresh date and id, user agent, keep-alive, STS --------------------------------


def test_fresh_date_and_request_id_on_every_request(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    hook.list_operators()
    time.sleep(1.05)  # x-bce-date has one-second resolution
    hook.list_operators()
    first, second = oos_server.requests
    assert first.headers["x-bce-date"] != second.headers["x-bce-date"]
    assert first.headers["authorization"] != second.headers["authorization"]
    ids = {uuid.UUID(r.headers["x-bce-request-id"]).version for r in oos_server.requests}
    assert ids == {4}
    assert first.headers["x-bce-request-id"] != second.headers["x-bce-request-id"]
    assert all(r.signature_ok for r in oos_server.requests)


def test_user_agent_and_keep_alive(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    from importlib.metadata import version

    for _ in range(3):
        hook.list_operators()
    ports = {r.client_port for r in oos_server.requests}
    assert len(ports) == 1, "one keep-alive connection for sequential calls"
    assert oos_server.requests[0].headers["user-agent"] == (
        f"airflow-provider-oos/{__version__} apache-airflow/{version('apache-airflow')}"
    )


def test_sts_token_is_sent_and_signed(
    hook_factory: Callable[..., OosHook], sts_server: ScriptedOosServer
) -> None:
    hook = hook_factory(sts_server)
    sts_server.script("GET", "/v2/execution", Reply(json=SEED))
    hook.get_execution("d-1")
    (call,) = sts_server.requests
    assert call.headers["x-bce-security-token"] == SESSION_TOKEN
    assert call.signed_header_names == ["host", "x-bce-date", "x-bce-security-token"]
    assert call.signature_ok


def test_without_sts_token_the_server_refuses(
    monkeypatch: pytest.MonkeyPatch, sts_server: ScriptedOosServer
) -> None:
    conn = json.loads(sts_server.conn_json(max_retries=0))
    del conn["extra"]["session_token"]
    monkeypatch.setenv("AIRFLOW_CONN_OOS_NO_STS", json.dumps(conn))
    with pytest.raises(OosAuthError, match="InvalidSessionToken"):
        OosHook(oos_conn_id="oos_no_sts").get_execution("d-1")


# ---- logging, repr, test_connection ------------------------------------------------------------


def test_a_healthy_call_logs_nothing_at_info_and_an_error_one_line(
    hook: OosHook, oos_server: ScriptedOosServer, capfd: pytest.CaptureFixture[str]
) -> None:
    # The hook logs through Airflow's task logger (structlog), which writes to the process output
    # at INFO: the per-call line of a healthy answer is DEBUG, an error answer's line a WARNING.
    oos_server.script(
        "GET",
        "/v2/execution",
        Reply(json=SEED, headers={"x-bce-request-id": "srv-rid-1"}),
        Reply.bce_error(404, "NoSuchExecution", request_id="srv-rid-2"),
    )
    capfd.readouterr()
    hook.get_execution("d-1")
    out, err = capfd.readouterr()
    assert [line for line in (out + err).splitlines() if "OOS GET" in line] == []
    with pytest.raises(OosNotFoundError):
        hook.get_execution("d-2")
    out, err = capfd.readouterr()
    lines = [line for line in (out + err).splitlines() if "OOS GET" in line]
    assert len(lines) == 1
    assert "OOS GET /api/logic/oos/v2/execution?id=d-2 -> 404 (request id " in lines[0]
    assert SECRET_KEY not in out + err and "authorization" not in (out + err).lower()


def test_repr_and_errors_hide_secrets(
    hook_factory: Callable[..., OosHook], sts_server: ScriptedOosServer
) -> None:
    hook = hook_factory(sts_server, max_retries=0)
    sts_server.script("GET", "/v2/execution", Reply.bce_error(403, "AccessDenied"))
    with pytest.raises(OosAuthError) as caught:
        hook.get_execution("d-1")
    for text in (
        repr(hook),
        str(hook),
        repr(hook.config),
        str(hook.config),
        repr(hook.session.auth),
        str(caught.value),
    ):
        assert SECRET_KEY not in text and SESSION_TOKEN not in text
    assert "test-ak" in repr(hook.config)


def test_console_url(hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer) -> None:
    hook = hook_factory(
        oos_server,
        console_url="https://console.example/{region}/exec/{execution_id}",
        region="gz",
    )
    assert hook.console_url("d-7") == "https://console.example/gz/exec/d-7"
    assert oos_server.requests == []


def test_test_connection_ok(hook: OosHook, oos_server: ScriptedOosServer) -> None:
    oos_server.script("POST", "/v1/operator/list", Reply.ok({"operators": [{"name": "a"}], "totalCount": 42}))
    ok, message = hook.test_connection()
    assert ok and "42" in message
    (call,) = oos_server.requests
    assert call.path == "/api/logic/oos/v1/operator/list" and call.json["pageSize"] == 1


def test_test_connection_bad_key(monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer) -> None:
    conn = json.loads(oos_server.conn_json())
    conn["login"] = "wrong-ak"
    monkeypatch.setenv("AIRFLOW_CONN_OOS_BADKEY", json.dumps(conn))
    ok, message = OosHook(oos_conn_id="oos_badkey").test_connection()
    assert not ok and "rejected the credentials" in message and "InvalidAccessKeyId" in message
    assert len(oos_server.requests) == 1


def test_test_connection_unreachable(monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer) -> None:
    conn = json.loads(oos_server.conn_json())
    conn["host"] = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DOWN", json.dumps(conn))
    ok, message = OosHook(oos_conn_id="oos_down").test_connection()
    assert not ok and message.startswith("Cannot reach the OOS endpoint") and "TLS" not in message


def test_test_connection_tls_problem(monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer) -> None:
    conn = json.loads(oos_server.conn_json())
    conn["host"] = f"https://127.0.0.1:{oos_server.port}"  # TLS against a plain-HTTP server
    monkeypatch.setenv("AIRFLOW_CONN_OOS_TLS", json.dumps(conn))
    ok, message = OosHook(oos_conn_id="oos_tls").test_connection()
    assert not ok and message.startswith("TLS problem")


def test_test_connection_misconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OOS_BADCONF",
        json.dumps(
            {"conn_type": "baidu_oos", "login": "ak", "password": SECRET_KEY, "extra": {"regoin": "bj"}}
        ),
    )
    ok, message = OosHook(oos_conn_id="oos_badconf").test_connection()
    assert not ok and "'regoin'" in message


def test_no_io_in_init() -> None:
    hook = OosHook(oos_conn_id="does_not_exist_anywhere")
    assert repr(hook) == "OosHook(oos_conn_id='does_not_exist_anywhere')"


def test_log_records_do_not_carry_the_authorization_header(
    hook: OosHook, oos_server: ScriptedOosServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.list_operators()
    signature = oos_server.requests[0].headers["authorization"].rsplit("/", 1)[1]
    assert signature not in caplog.text


# ---- the retry rules as a table (connect timeouts cannot be produced on loopback) -------------


@pytest.mark.parametrize(
    ("error", "changes_state", "attempt", "expected"),
    [
        (OosConnectionError("refused", request_sent=False), True, 1, True),
        (OosConnectionError("read timeout", request_sent=True), True, 1, False),
        (OosConnectionError("read timeout", request_sent=True), False, 1, True),
        (OosConnectionError("tls", request_sent=False, tls=True), False, 1, False),
        (OosApiError("x", status=500), True, 1, False),
        (OosApiError("x", status=503), False, 1, True),
        (OosApiError("x", status=501), False, 1, False),
        (OosThrottledError("x", status=429), True, 1, True),
        (OosAuthError("x", status=400, code="RequestExpired"), True, 3, True),
        (OosAuthError("x", status=403, code="SignatureDoesNotMatch"), True, 1, True),
        (OosAuthError("x", status=403, code="SignatureDoesNotMatch"), False, 2, False),
        (OosAuthError("x", status=403, code="AccessDenied"), False, 1, False),
        (ValueError("bad input"), False, 1, False),
    ],
)
def test_should_retry_table(error: BaseException, changes_state: bool, attempt: int, expected: bool) -> None:
    from airflow_provider_oos.client.retry import should_retry

    assert should_retry(error, changes_state=changes_state, attempt=attempt) is expected


@pytest.mark.parametrize("host", ["http://oos-test.invalid:8080", "refused"])
def test_unsent_create_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    """DNS failure and refused connection: never sent, so retried up to max_retries."""
    conn = {
        "conn_type": "baidu_oos",
        "login": "test-ak",
        "password": SECRET_KEY,
        "host": f"http://127.0.0.1:{free_port()}" if host == "refused" else host,
        "extra": {"max_retries": 2, "retry_wait_min": 0.001, "retry_wait_max": 0.002},
    }
    monkeypatch.setenv("AIRFLOW_CONN_OOS_UNSENT", json.dumps(conn))
    with pytest.raises(OosConnectionError) as caught:
        OosHook(oos_conn_id="oos_unsent").create_execution(INLINE)
    assert caught.value.request_sent is False and caught.value.status is None
    retries = [r for r in caplog.records if "failed" in r.getMessage() and "; retry " in r.getMessage()]
    assert len(retries) == 2


def test_the_leak_check_sees_debug_records(
    hook: OosHook, oos_server: ScriptedOosServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The leak check reads these records: prove DEBUG lines of urllib3 and the hook's
    retry warnings reach it (otherwise it would pass blindly)."""
    oos_server.script("GET", "/v2/execution", Reply(status=503, body=b""), Reply(json=SEED))
    hook.get_execution("d-1")
    names = {record.name for record in caplog.get_records("call")}
    assert {"urllib3.connectionpool", "airflow_provider_oos.hooks.oos"} <= names
