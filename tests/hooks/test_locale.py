"""The ``locale`` connection extra: checked when the connection is read, in the form, and sent
over real HTTP as the ``locale`` query parameter on every call of both hooks (signed like any
other query parameter). The conformance run over every operation is in tests/spec."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_oos.client.connection import parse_connection
from airflow_provider_oos.client.connection_form import CONN_FIELDS, LOCALES
from airflow_provider_oos.get_provider_info import get_provider_info
from airflow_provider_oos.hooks.oos import OosAsyncHook, OosHook, close_all_sessions
from tests.support.oos_server import Reply, ScriptedOosServer

EXECUTION = "/v2/execution"
RUNNING = {"id": "d-1", "state": "RUNNING", "tasks": []}


class Conn:
    """The attributes of an Airflow Connection that parse_connection reads."""

    def __init__(self, **extra: Any) -> None:
        self.login, self.password, self.host, self.port = "ak", "sk", "http://127.0.0.1:1", None
        self.extra = json.dumps(extra)


def test_locale_is_unset_by_default_and_kept_when_published() -> None:
    assert parse_connection(Conn()).locale is None
    assert parse_connection(Conn(locale="en-us")).locale == "en-us"
    assert parse_connection(Conn(locale="zh-cn")).locale == "zh-cn"
    assert parse_connection(Conn(locale=" EN-US ")).locale == "en-us"  # sent as published
    assert parse_connection(Conn(locale="")).locale is None  # an untouched form field
    assert parse_connection(Conn(extra__baidu_oos__locale="en-us")).locale == "en-us"  # older UIs


@pytest.mark.parametrize("value", ["en", "fr-fr", "en_US", "zh-CN-x", "english"])
def test_an_unpublished_locale_names_the_extra_and_the_choices(value: str) -> None:
    with pytest.raises(ValueError, match="extra 'locale'") as err:
        parse_connection(Conn(locale=value))
    assert all(choice in str(err.value) for choice in LOCALES)


def test_a_locale_that_is_not_text_names_the_extra() -> None:
    with pytest.raises(ValueError, match="extra 'locale' must be a string"):
        parse_connection(Conn(locale=1))


def test_locale_is_in_the_connection_form() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"]["locale"] == CONN_FIELDS["locale"]
    assert all(choice in CONN_FIELDS["locale"]["description"] for choice in LOCALES)
    assert "locale" in conn_type["ui-field-behaviour"]["placeholders"]


def _sync_hook(server: ScriptedOosServer, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> OosHook:
    conn_id = f"oos_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", server.conn_json(**extra))
    return OosHook(oos_conn_id=conn_id)


SYNC_CALLS: list[tuple[str, Callable[[OosHook], Any]]] = [
    ("get_execution", lambda h: h.get_execution("d-1")),
    ("get_execution withLog", lambda h: h.get_execution("d-1", with_log=True)),
    ("delete_template", lambda h: h.delete_template("tpl-1")),
    ("list_templates (a body, no query of its own)", lambda h: h.list_templates()),
]


@pytest.mark.parametrize("call", [c[1] for c in SYNC_CALLS], ids=[c[0] for c in SYNC_CALLS])
def test_the_sync_hook_sends_the_locale_signed(
    monkeypatch: pytest.MonkeyPatch, call: Callable[[OosHook], Any]
) -> None:
    with ScriptedOosServer() as server:
        server.script("GET", EXECUTION, Reply.ok(RUNNING))
        server.script("POST", "/v2/template/list", Reply.ok({"templates": [], "totalCount": 0}))
        call(_sync_hook(server, monkeypatch, locale="en-us"))
    (request,) = server.requests
    assert request.query["locale"] == "en-us"
    assert request.signature_ok  # the server checked the signature over the query it received


def test_without_a_locale_none_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOosServer() as server:
        server.script("GET", EXECUTION, Reply.ok(RUNNING))
        _sync_hook(server, monkeypatch).get_execution("d-1", with_log=True)
    (request,) = server.requests
    assert request.query == {"id": "d-1", "withLog": "true"}


def test_retries_send_the_locale_too(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOosServer() as server:
        server.script("GET", EXECUTION, Reply.bce_error(503, "ServiceUnavailable"), Reply.ok(RUNNING))
        _sync_hook(server, monkeypatch, locale="zh-cn").get_execution("d-1")
    assert [(r.query.get("locale"), r.signature_ok) for r in server.requests] == [("zh-cn", True)] * 2


def test_the_async_hook_sends_the_locale_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def poll(conn_id: str) -> None:
        try:
            async with OosAsyncHook(oos_conn_id=conn_id) as hook:
                await hook.get_execution("d-1")
                await hook.list_task_children("d-1", "t-1")
        finally:
            await close_all_sessions()

    with ScriptedOosServer() as server:
        server.script("GET", EXECUTION, Reply.ok(RUNNING))
        server.script("POST", "/v2/task/children/list", Reply.ok({"tasks": [], "totalCount": 0}))
        conn_id = f"oos_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", server.conn_json(locale="en-us"))
        asyncio.run(poll(conn_id))
    assert [(r.path, r.query.get("locale"), r.signature_ok) for r in server.requests] == [
        (server.base_path + EXECUTION, "en-us", True),
        (server.base_path + "/v2/task/children/list", "en-us", True),
    ]
