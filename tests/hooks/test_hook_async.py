"""OosAsyncHook (aiohttp) against the same real signing-verifying server as the sync hook."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import BaseHook

from airflow_provider_oos.client.session_pool import POOL, close_all_sessions
from airflow_provider_oos.exceptions import OosApiError, OosAuthError, OosConnectionError, OosNotFoundError
from airflow_provider_oos.hooks.oos import OosAsyncHook
from tests.support.oos_server import SESSION_TOKEN, Reply, ScriptedOosServer, free_port

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

SEED = json.loads((Path(__file__).parents[1] / "support" / "seed_get_execution.json").read_text())


def set_conn(monkeypatch: pytest.MonkeyPatch, server: ScriptedOosServer, **extra: Any) -> str:
    conn_id = f"oos_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", server.conn_json(**extra))
    return conn_id


@pytest.fixture
async def sessions_closed() -> AsyncIterator[None]:
    yield
    await close_all_sessions()
    assert POOL.open_count() == 0


async def test_get_execution(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("GET", "/v2/execution", Reply(json=SEED))
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server))
    execution = await hook.get_execution("d-*********34r")
    assert execution.to_api() == SEED["result"]
    (call,) = oos_server.requests
    assert call.signature_ok and call.signed_header_names == ["host", "x-bce-date"]
    assert call.query == {"id": "d-*********34r"}
    assert call.headers["user-agent"].startswith("airflow-provider-oos/")
    assert uuid.UUID(call.headers["x-bce-request-id"]).version == 4


async def test_connection_is_fetched_asynchronously(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    original = BaseHook.aget_connection
    fetched: list[str] = []

    async def recording(conn_id: str) -> Any:
        fetched.append(conn_id)
        return await original(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", recording)
    conn_id = set_conn(monkeypatch, oos_server)
    hook = OosAsyncHook(conn_id)
    await hook.get_execution("d-1")
    await hook.get_execution("d-2")
    assert fetched == [conn_id]  # once per hook, through the async lookup


async def test_hooks_of_one_loop_share_one_connection_lookup_for_a_while(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    from airflow_provider_oos.hooks import oos_async

    original = BaseHook.aget_connection
    fetched: list[str] = []

    async def recording(conn_id: str) -> Any:
        fetched.append(conn_id)
        await asyncio.sleep(0.01)  # still in flight while the other hooks ask
        return await original(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", recording)
    conn_id = set_conn(monkeypatch, oos_server)
    # Thousands of triggers starting together: one lookup, one parsed config for all.
    configs = await asyncio.gather(*(OosAsyncHook(conn_id).get_config() for _ in range(50)))
    assert fetched == [conn_id] and all(config is configs[0] for config in configs)
    # After the TTL a new hook looks the connection up again (an edited connection is seen).
    monkeypatch.setattr(oos_async, "CONFIG_TTL_SECONDS", 0.0)
    await OosAsyncHook(conn_id).get_config()
    assert fetched == [conn_id, conn_id]


async def test_a_failed_connection_lookup_is_not_kept(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    conn_id = f"oos_{uuid.uuid4().hex[:8]}"
    with pytest.raises(Exception, match=conn_id):
        await OosAsyncHook(conn_id).get_config()  # not defined yet
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", oos_server.conn_json())
    assert (await OosAsyncHook(conn_id).get_config()).endpoint == oos_server.url


async def test_without_async_lookup_falls_back_to_a_thread(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    monkeypatch.delattr(BaseHook, "aget_connection")
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server))
    config = await hook.get_config()
    assert config.endpoint == oos_server.url


async def test_one_pool_per_loop_and_connection_shared_by_all_hooks(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    conn_id = set_conn(monkeypatch, oos_server)
    first, second = OosAsyncHook(conn_id), OosAsyncHook(conn_id)
    for _ in range(3):
        await first.get_execution("d-1")
        await second.get_execution("d-1")
    assert len({r.client_port for r in oos_server.requests}) == 1, "one kept-alive connection for both"
    assert POOL.session(conn_id) is POOL.session(conn_id)
    other = set_conn(monkeypatch, oos_server)
    assert POOL.session(other) is not POOL.session(conn_id)

    session = POOL.session(conn_id)
    await close_all_sessions()
    assert session.closed
    await first.get_execution("d-1")  # a fresh pool after closing
    assert POOL.session(conn_id) is not session


async def test_last_user_of_a_pool_closes_it(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    """Triggers hold the pool with `async with`; it closes when the last one leaves, so a
    short-lived loop (`airflow dags test`) ends with no unclosed aiohttp session."""
    oos_server.script("GET", "/v2/execution", Reply(json=SEED))
    conn_id = set_conn(monkeypatch, oos_server)
    async with OosAsyncHook(conn_id) as first:
        async with OosAsyncHook(conn_id) as second:
            await second.get_execution("d-1")
            session = POOL.session(conn_id)
        assert not session.closed, "still used by the first hook"
        await first.get_execution("d-1")
        assert POOL.session(conn_id) is session
    assert session.closed
    assert not POOL.is_open(conn_id)


def test_each_event_loop_gets_its_own_pool(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer
) -> None:
    conn_id = set_conn(monkeypatch, oos_server)
    seen: list[Any] = []

    async def once() -> None:
        await OosAsyncHook(conn_id).get_execution("d-1")
        seen.append(POOL.session(conn_id))
        await close_all_sessions()

    asyncio.run(once())
    asyncio.run(once())
    assert seen[0] is not seen[1] and all(session.closed for session in seen)


async def test_many_concurrent_waits_share_one_bounded_pool(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    conn_id = set_conn(monkeypatch, oos_server)
    hooks = [OosAsyncHook(conn_id) for _ in range(300)]
    results = await asyncio.gather(*(hook.get_execution(f"d-{i}") for i, hook in enumerate(hooks)))
    assert len(results) == 300 and len(oos_server.requests) == 300
    assert all(r.signature_ok for r in oos_server.requests)
    assert len({r.client_port for r in oos_server.requests}) <= 100
    assert len({r.headers["x-bce-request-id"] for r in oos_server.requests}) == 300


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (Reply(status=404, json={"success": False, "msg": "not found", "code": 404}), OosNotFoundError, 404),
        (Reply.bce_error(403, "AccessDenied"), OosAuthError, 403),
        (Reply(status=502, body=b"<html>bad gateway</html>"), OosApiError, 502),
        (Reply(status=200, body=b'{"success": tr'), OosApiError, 200),
        (Reply(json={"success": False, "msg": "no", "code": 400}), OosApiError, 200),
    ],
)
async def test_errors_are_mapped_like_the_sync_hook(
    monkeypatch: pytest.MonkeyPatch,
    oos_server: ScriptedOosServer,
    sessions_closed: None,
    reply: Reply,
    kind: type[OosApiError],
    status: int,
) -> None:
    oos_server.script("GET", "/v2/execution", reply)
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server, max_retries=0))
    with pytest.raises(OosApiError) as caught:
        await hook.get_execution("d-1")
    assert type(caught.value) is kind and caught.value.status == status
    assert caught.value.request_id == oos_server.requests[-1].headers["x-bce-request-id"]


async def test_absent_execution_is_not_found(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("GET", "/v2/execution", Reply.ok(None))
    with pytest.raises(OosNotFoundError, match="d-gone"):
        await OosAsyncHook(set_conn(monkeypatch, oos_server)).get_execution("d-gone")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None, status: int
) -> None:
    oos_server.script("GET", "/v2/execution", Reply(status=status, body=b""), Reply(json=SEED))
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server, max_retries=3))
    assert (await hook.get_execution("d-1")).state == "SUCCESS"
    assert len(oos_server.requests) == 2


async def test_read_retries_are_bounded(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("GET", "/v2/execution", *[Reply(status=500, body=b"") for _ in range(10)])
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server, max_retries=2))
    with pytest.raises(OosApiError) as caught:
        await hook.get_execution("d-1")
    assert caught.value.status == 500 and len(oos_server.requests) == 3


async def test_read_timeout_is_retried(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("GET", "/v2/execution", Reply(json=SEED, delay=0.6), Reply(json=SEED))
    hook = OosAsyncHook(set_conn(monkeypatch, oos_server, timeout=0.3, max_retries=2))
    assert (await hook.get_execution("d-1")).state == "SUCCESS"
    assert len(oos_server.requests) == 2


async def test_client_errors_are_not_retried(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("GET", "/v2/execution", Reply.bce_error(400, "MalformedJSON"))
    with pytest.raises(OosApiError):
        await OosAsyncHook(set_conn(monkeypatch, oos_server, max_retries=3)).get_execution("d-1")
    assert len(oos_server.requests) == 1


async def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, sessions_closed: None) -> None:
    conn = {
        "conn_type": "baidu_oos",
        "login": "ak",
        "password": "sk-unreachable",
        "host": f"http://127.0.0.1:{free_port()}",
        "extra": {"max_retries": 2, "retry_wait_min": 0.001, "retry_wait_max": 0.002},
    }
    monkeypatch.setenv("AIRFLOW_CONN_OOS_ASYNC_DOWN", json.dumps(conn))
    with pytest.raises(OosConnectionError) as caught:
        await OosAsyncHook("oos_async_down").get_execution("d-1")
    assert caught.value.request_sent is False and caught.value.status is None and not caught.value.tls


async def test_tls_problem_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    conn = json.loads(oos_server.conn_json(max_retries=3))
    conn["host"] = f"https://127.0.0.1:{oos_server.port}"
    monkeypatch.setenv("AIRFLOW_CONN_OOS_ASYNC_TLS", json.dumps(conn))
    with pytest.raises(OosConnectionError) as caught:
        await OosAsyncHook("oos_async_tls").get_execution("d-1")
    assert caught.value.tls


async def test_sts_token_is_sent_and_signed(
    monkeypatch: pytest.MonkeyPatch, sts_server: ScriptedOosServer, sessions_closed: None
) -> None:
    await OosAsyncHook(set_conn(monkeypatch, sts_server)).get_execution("d-1")
    (call,) = sts_server.requests
    assert call.signature_ok and call.headers["x-bce-security-token"] == SESSION_TOKEN
    assert call.signed_header_names == ["host", "x-bce-date", "x-bce-security-token"]


async def test_repr_hides_secrets(
    monkeypatch: pytest.MonkeyPatch, sts_server: ScriptedOosServer, sessions_closed: None
) -> None:
    hook = OosAsyncHook(set_conn(monkeypatch, sts_server))
    config = await hook.get_config()
    assert SESSION_TOKEN not in repr(config) and sts_server.secret_key not in repr(config)
    assert repr(hook).startswith("OosAsyncHook(oos_conn_id=")


async def test_bad_execution_id_fails_before_any_call(
    monkeypatch: pytest.MonkeyPatch, oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    with pytest.raises(ValueError, match="execution_id"):
        await OosAsyncHook(set_conn(monkeypatch, oos_server)).get_execution("  ")
    assert oos_server.requests == []
