"""Exactly-once create (issue 10): every create carries a create token; when its outcome is
unknown, the hook finds the execution by that token instead of resending. Real HTTP throughout."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosConnectionError,
    OosCreateOutcomeUnknownError,
)
from airflow_provider_oos.hooks.create_token import CREATE_TOKEN_TAG, LOOKUP_ATTEMPTS
from airflow_provider_oos.hooks.oos import OosHook
from tests.support.oos_server import Reply, ScriptedOosServer

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

INLINE = {"name": "stop-web", "operators": [{"name": "stop_bcc", "operator": "BCE::BCC::StopInstance"}]}
CREATE, LIST = "/v2/execution", "/v2/execution/list"


def token_of(body: dict[str, Any]) -> str:
    (token,) = [t["tagValue"] for t in body["tags"] if t["tagKey"] == CREATE_TOKEN_TAG]
    return str(token)


def execution(execution_id: str, token: str | None = None, **tags: str) -> dict[str, Any]:
    all_tags = {**tags, **({CREATE_TOKEN_TAG: token} if token else {})}
    return {
        "id": execution_id,
        "state": "RUNNING",
        "tags": [{"tagKey": k, "tagValue": v} for k, v in all_tags.items()],
    }


def listing_with_the_create(server: ScriptedOosServer) -> Reply:
    """What OOS would list after the lost create: others' executions, and the one with our token."""
    (create,) = server.calls("POST", CREATE)
    others = [execution(f"d-other-{i}", uuid.uuid4().hex, team="ops") for i in range(3)]
    mine = execution("d-created", token_of(create.json), team="ops")
    return Reply.ok({"executions": [*others[:1], mine, *others[1:]], "totalCount": 4})


EMPTY_LIST = Reply.ok({"executions": [], "totalCount": 0})
LOST_ANSWERS = {
    "read timeout": Reply.ok({"id": "d-created"}, delay=0.8),
    "dropped": Reply(drop=True),
    "500": Reply(status=500, json={"success": False, "msg": "internal", "code": 500}),
    "502 html": Reply(status=502, body=b"<html>bad gateway</html>"),
    "503": Reply(status=503, json={"success": False, "msg": "busy", "code": 503}),
}


def test_every_create_carries_a_unique_token_next_to_the_callers_tags(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=3)
    oos_server.script("POST", CREATE, Reply.ok({"id": "d-1"}), Reply.ok({"id": "d-2"}))
    hook.create_execution(INLINE, tags={"team": "ops"})
    hook.create_execution(INLINE, tags={"team": "ops"})
    first, second = (call.json for call in oos_server.calls("POST", CREATE))
    assert {"tagKey": "team", "tagValue": "ops"} in first["tags"]
    assert token_of(first) != token_of(second)
    assert oos_server.calls("POST", LIST) == []  # a clear answer needs no lookup


def test_a_token_the_caller_brings_is_used_as_is(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    oos_server.script("POST", CREATE, Reply.ok({"id": "d-1"}))
    hook_factory(oos_server, max_retries=3).create_execution(
        INLINE, tags={CREATE_TOKEN_TAG: "dag.run.task.0"}
    )
    (call,) = oos_server.calls("POST", CREATE)
    assert token_of(call.json) == "dag.run.task.0"


@pytest.mark.parametrize("lost", list(LOST_ANSWERS), ids=list(LOST_ANSWERS))
def test_lost_answer_is_recovered_by_the_token(
    hook_factory: Callable[..., OosHook],
    oos_server: ScriptedOosServer,
    capfd: pytest.CaptureFixture[str],
    lost: str,
) -> None:
    hook = hook_factory(oos_server, max_retries=3, timeout=0.4)
    oos_server.script("POST", CREATE, LOST_ANSWERS[lost])
    oos_server.script("POST", LIST, listing_with_the_create)
    capfd.readouterr()
    assert hook.create_execution(INLINE, tags={"team": "ops"}) == "d-created"
    time.sleep(0.5 if lost == "read timeout" else 0)
    assert len(oos_server.calls("POST", CREATE)) == 1, "never resent"
    (listing,) = oos_server.calls("POST", LIST)
    body = listing.json
    assert (
        body["template"] == {"name": "stop-web"}
        and body["sort"] == "startTime"
        and body["ascending"] is False
    )
    assert body["pageNo"] == 1 and body["pageSize"] == 100
    assert abs(body["startTime"] - (time.time() * 1000 - 15 * 60 * 1000)) < 60_000
    out, err = capfd.readouterr()
    assert "Recovered OOS execution d-created by its create token" in out + err


def test_a_listing_delay_is_waited_out(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=3)
    oos_server.script("POST", CREATE, Reply(drop=True))
    oos_server.script("POST", LIST, EMPTY_LIST, EMPTY_LIST, listing_with_the_create)
    assert hook.create_execution(INLINE) == "d-created"
    assert len(oos_server.calls("POST", LIST)) == 3 and len(oos_server.calls("POST", CREATE)) == 1


def test_the_token_is_found_on_a_later_page(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=3)
    crowd = Reply.ok(
        {"executions": [execution(f"d-{i}", uuid.uuid4().hex) for i in range(100)], "totalCount": 150}
    )
    oos_server.script("POST", CREATE, Reply(status=500, body=b""))
    oos_server.script("POST", LIST, crowd, listing_with_the_create)
    assert hook.create_execution(INLINE) == "d-created"
    assert [call.json["pageNo"] for call in oos_server.calls("POST", LIST)] == [1, 2]


def test_not_found_raises_naming_the_token_and_never_resends(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=3, timeout=0.4)
    others = Reply.ok({"executions": [execution("d-other", uuid.uuid4().hex)], "totalCount": 1})
    oos_server.script("POST", CREATE, Reply.ok({"id": "d-late"}, delay=0.8))
    oos_server.script("POST", LIST, *[others] * LOOKUP_ATTEMPTS)
    with pytest.raises(OosCreateOutcomeUnknownError) as caught:
        hook.create_execution(INLINE)
    error = caught.value
    token = token_of(oos_server.calls("POST", CREATE)[0].json)
    assert error.create_token == token and token in str(error) and "was found" in str(error)
    assert "no execution carrying create token" in str(error) and "Nothing was resent" in str(error)
    # Still the error of a request that was sent and got no answer, with its request id.
    assert isinstance(error, OosConnectionError) and error.request_sent and error.status is None
    assert error.request_id == oos_server.calls("POST", CREATE)[0].headers["x-bce-request-id"]
    assert len(oos_server.calls("POST", LIST)) == LOOKUP_ATTEMPTS
    time.sleep(0.5)
    assert len(oos_server.calls("POST", CREATE)) == 1


def test_a_failing_list_call_still_ends_in_the_token_error(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=0)
    oos_server.script("POST", CREATE, Reply(status=502, body=b""))
    oos_server.script("POST", LIST, *[Reply(status=503, body=b"")] * LOOKUP_ATTEMPTS)
    with pytest.raises(OosCreateOutcomeUnknownError, match="the last search failed") as caught:
        hook.create_execution(INLINE)
    assert caught.value.status == 502 and len(oos_server.calls("POST", CREATE)) == 1


def test_clear_refusals_are_not_looked_up(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=0)
    oos_server.script("POST", CREATE, Reply(json={"success": False, "msg": "bad template", "code": 400}))
    with pytest.raises(OosApiError, match="bad template") as caught:
        hook.create_execution(INLINE)
    assert type(caught.value) is OosApiError and oos_server.calls("POST", LIST) == []


def test_without_a_list_call_the_create_error_is_raised_and_said_once(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = hook_factory(oos_server, max_retries=3)
    not_offered = Reply(status=404, body=b"404 page not found", headers={"Content-Type": "text/plain"})
    oos_server.script("POST", CREATE, Reply(drop=True), Reply(drop=True))
    oos_server.script("POST", LIST, not_offered, not_offered)
    capfd.readouterr()
    for _ in range(2):
        with pytest.raises(OosConnectionError) as caught:
            hook.create_execution(INLINE)
        assert type(caught.value) is OosConnectionError and caught.value.request_sent
    out, err = capfd.readouterr()
    assert (out + err).count("has no list-executions call") == 1
    assert len(oos_server.calls("POST", CREATE)) == 2 and len(oos_server.calls("POST", LIST)) == 2


def test_a_referenced_template_is_looked_up_by_its_name(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server, max_retries=3)
    oos_server.script("POST", CREATE, Reply(status=504, body=b""))
    oos_server.script("POST", LIST, listing_with_the_create)
    assert hook.create_execution({"ref": "tpl-1", "name": "nightly-stop"}) == "d-created"
    (listing,) = oos_server.calls("POST", LIST)
    assert listing.json["template"] == {"name": "nightly-stop"}
    assert json.loads(oos_server.calls("POST", CREATE)[0].body)["template"] == {
        "ref": "tpl-1",
        "name": "nightly-stop",
    }
