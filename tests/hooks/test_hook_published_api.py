"""The hooks speak the OOS API as published today (issue 9), over real HTTP to the scripted server:
execution tags, logs on demand, both path styles, the three OpenAPI-only calls."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos.client.session_pool import close_all_sessions
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosCallNotAvailableError,
    OosNotFoundError,
)
from airflow_provider_oos.hooks.oos import OosAsyncHook, OosHook
from tests.support.oos_server import SECRET_KEY, Reply, ScriptedOosServer

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

SEED = json.loads((Path(__file__).parents[1] / "support" / "seed_get_execution.json").read_text())
INLINE = {
    "name": "stop-web",
    "tags": [{"key": "team", "value": "ops"}],
    "operators": [{"name": "stop_bcc", "operator": "BCE::BCC::StopInstance"}],
}
LOG = [
    {"timestamp": "2026-11-28T03:00:01Z", "level": "INFO", "msg": "stopping i-1", "tags": {"k": 1}},
    {"timestamp": 1764298802000, "level": "ERROR", "msg": "instance i-1 not found"},
]


def answer(**changes: Any) -> dict[str, Any]:
    """The seed's get-execution answer, with top-level result fields changed."""
    document = copy.deepcopy(SEED)
    document["result"].update(changes)
    return document


def with_task_log(document: dict[str, Any]) -> dict[str, Any]:
    for task in document["result"]["tasks"]:
        task["log"] = copy.deepcopy(LOG)
    return document


def make_async_hook(
    hook_factory: Callable[..., OosHook], server: ScriptedOosServer, **extra: Any
) -> OosAsyncHook:
    return OosAsyncHook(hook_factory(server, **extra).oos_conn_id)


@pytest.fixture
def openapi_server() -> Iterator[ScriptedOosServer]:
    with ScriptedOosServer(access_key="test-ak", secret_key=SECRET_KEY, base_path="") as server:
        yield server


@pytest.fixture
async def sessions_closed() -> AsyncIterator[None]:
    yield
    await close_all_sessions()


# ---- tags: read in both shapes, written as published --------------------------------------------


def test_execution_tags_are_read_in_both_shapes(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    tags = [{"tagKey": "team", "tagValue": "ops"}, {"key": "env", "value": "prod"}]
    oos_server.script("GET", "/v2/execution", Reply(json=answer(tags=tags)))
    execution = hook_factory(oos_server).get_execution("d-1")
    assert execution.tag_map() == {"team": "ops", "env": "prod"}
    # Written out again in the published execution-tag shape.
    assert execution.to_api()["tags"] == [
        {"tagKey": "team", "tagValue": "ops"},
        {"tagKey": "env", "tagValue": "prod"},
    ]


def test_execution_tags_are_sent_as_tag_key_and_value(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server)
    oos_server.script("POST", "/v2/execution", Reply.ok({"id": "d-1"}), Reply.ok({"id": "d-2"}))
    hook.create_execution(INLINE, tags={"team": "ops"})
    hook.create_execution(INLINE, tags=[{"key": "a", "value": "1"}, {"tagKey": "b", "tagValue": "2"}])
    first, second = (call.json for call in oos_server.calls("POST", "/v2/execution"))
    assert {"tagKey": "team", "tagValue": "ops"} in first["tags"]
    assert {"tagKey": "a", "tagValue": "1"} in second["tags"] and {"tagKey": "b", "tagValue": "2"} in second[
        "tags"
    ]
    for body in (first, second):
        assert all(set(tag) == {"tagKey", "tagValue"} for tag in body["tags"])
        assert body["template"]["tags"] == [{"key": "team", "value": "ops"}]  # template tags stay key/value


def test_template_tags_are_sent_as_key_and_value(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    oos_server.script("POST", "/v2/template", Reply.ok({"id": "tpl-1"}))
    hook_factory(oos_server).create_template({**INLINE, "tags": [{"tagKey": "team", "tagValue": "ops"}]})
    (call,) = oos_server.calls("POST", "/v2/template")
    assert call.json["tags"] == [{"key": "team", "value": "ops"}]


def test_parallelism_and_manually_are_sent_only_when_given(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server)
    oos_server.script("POST", "/v2/execution", Reply.ok({"id": "d-1"}), Reply.ok({"id": "d-2"}))
    hook.create_execution(INLINE, parallelism=3, manually=True)
    hook.create_execution(INLINE)
    first, second = (call.json for call in oos_server.calls("POST", "/v2/execution"))
    assert (first["parallelism"], first["manually"]) == (3, True)
    assert "parallelism" not in second and "manually" not in second


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parallelism": 0}, "parallelism"),
        ({"parallelism": "2"}, "parallelism"),
        ({"manually": "yes"}, "manually"),
        ({"tags": [{"value": "no key"}]}, "tags"),
        ({"properties": ["not", "a", "dict"]}, "properties"),
    ],
)
def test_bad_create_options_fail_before_any_call(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        hook_factory(oos_server).create_execution(INLINE, **kwargs)
    assert oos_server.requests == []


# ---- check template: an answer without a result --------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "ok", "reason"),
    [
        (Reply(json={"success": True, "msg": "", "code": 200}), True, None),
        (Reply.ok(None), True, None),
        (
            Reply(json={"success": False, "msg": "operators[0].operator unknown", "code": 400}),
            False,
            "operators[0].operator unknown",
        ),
        (Reply.ok({"isValid": False, "reason": "bad link"}), False, "bad link"),
    ],
)
def test_check_template_reads_every_published_answer(
    hook_factory: Callable[..., OosHook],
    oos_server: ScriptedOosServer,
    reply: Reply,
    ok: bool,
    reason: str | None,
) -> None:
    oos_server.script("POST", "/v2/template/check", reply)
    check = hook_factory(oos_server).check_template(INLINE)
    assert (check.ok, check.reason) == (ok, reason)


def test_check_template_still_raises_what_is_not_a_verdict(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    oos_server.script("POST", "/v2/template/check", Reply.bce_error(403, "AccessDenied"))
    with pytest.raises(OosAuthError):
        hook_factory(oos_server, max_retries=0).check_template(INLINE)


# ---- logs on demand ----------------------------------------------------------------------------


def test_logs_are_asked_for_only_when_wanted(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server)
    oos_server.script("GET", "/v2/execution", Reply(json=answer()), Reply(json=with_task_log(answer())))
    plain = hook.get_execution("d-1")
    logged = hook.get_execution("d-1", with_log=True)
    first, second = oos_server.calls("GET", "/v2/execution")
    assert first.query == {"id": "d-1"}
    assert second.query == {"id": "d-1", "withLog": "true"}
    assert all(task.log is None for task in plain.all_tasks())  # not asked: None, not []
    entries = logged.tasks[0].log or []
    assert [entry.timestamp for entry in entries] == ["2026-11-28T03:00:01Z", 1764298802000]
    assert [entry.text for entry in entries] == ["stopping i-1", "instance i-1 not found"]


async def test_async_logs_are_asked_for_only_when_wanted(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    hook = make_async_hook(hook_factory, oos_server)
    oos_server.script("GET", "/v2/execution", Reply(json=answer()), Reply(json=with_task_log(answer())))
    plain = await hook.get_execution("d-1")
    logged = await hook.get_execution("d-1", with_log=True)
    assert [call.query for call in oos_server.calls("GET", "/v2/execution")] == [
        {"id": "d-1"},
        {"id": "d-1", "withLog": "true"},
    ]
    assert plain.tasks[0].log is None and logged.tasks[0].log and logged.tasks[0].log[0].level == "INFO"


# ---- both path styles ----------------------------------------------------------------------------


def test_openapi_style_connection_calls_without_base_path(
    hook_factory: Callable[..., OosHook], openapi_server: ScriptedOosServer
) -> None:
    hook = hook_factory(openapi_server)
    assert hook.config.base_path == ""
    openapi_server.script("GET", "/v2/execution", Reply(json=SEED))
    assert hook.get_execution("d-1").state == "SUCCESS"
    hook.list_operators(api_version="v2")
    assert [(r.method, r.path) for r in openapi_server.requests] == [
        ("GET", "/v2/execution"),
        ("POST", "/v2/operator/list"),
    ]
    assert all(r.signature_ok for r in openapi_server.requests)


def test_operator_list_at_v1_and_v2(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server)
    oos_server.script(
        "POST", "/v2/operator/list", Reply.ok({"operators": [{"name": "a"}], "categories": [{"name": "BCC"}]})
    )
    v1 = hook.list_operators(page_size=2, name="BCE::BCC::StopInstance")
    v2 = hook.list_operators(api_version="v2")
    assert [r.path for r in oos_server.requests] == [
        "/api/logic/oos/v1/operator/list",
        "/api/logic/oos/v2/operator/list",
    ]
    assert oos_server.requests[0].json["operator"] == {"name": "BCE::BCC::StopInstance"}
    assert v1.operators == [] and v2.operators[0].name == "a"
    with pytest.raises(ValueError, match="api_version"):
        hook.list_operators(api_version="v3")
    assert len(oos_server.requests) == 2


def test_connection_test_in_the_configured_style(
    hook_factory: Callable[..., OosHook], openapi_server: ScriptedOosServer
) -> None:
    ok, message = hook_factory(openapi_server).test_connection()
    assert ok, message
    assert [r.path for r in openapi_server.requests] == ["/v2/operator/list"]


def test_connection_test_names_the_base_path_that_works(
    hook_factory: Callable[..., OosHook], openapi_server: ScriptedOosServer, oos_server: ScriptedOosServer
) -> None:
    # Seed style configured, the endpoint answers only in the OpenAPI style...
    ok, message = hook_factory(openapi_server, base_path="/api/logic/oos").test_connection()
    assert not ok and 'set the connection extra "base_path": ""' in message
    assert [r.path for r in openapi_server.requests] == [
        "/api/logic/oos/v1/operator/list",
        "/v2/operator/list",
    ]
    # ... and the other way round.
    ok, message = hook_factory(oos_server, base_path="").test_connection()
    assert not ok and 'set the connection extra "base_path": "/api/logic/oos"' in message
    assert [r.path for r in oos_server.requests] == ["/v2/operator/list", "/api/logic/oos/v1/operator/list"]


def test_connection_test_when_neither_style_answers(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    hook = hook_factory(oos_server)  # seed style
    oos_server.base_path = "/elsewhere"  # the server answers neither style
    ok, message = hook.test_connection()
    assert not ok and "does not answer either" in message and "404" in message
    assert len(oos_server.requests) == 2


# ---- the OpenAPI-only calls -------------------------------------------------------------------------

START, END = 1764288000000, 1764374400000


def test_list_executions_sends_every_published_filter(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    oos_server.script(
        "POST",
        "/v2/execution/list",
        Reply.ok({"executions": [SEED["result"]], "pageNo": 2, "pageSize": 50, "totalCount": 51}),
    )
    page = hook_factory(oos_server).list_executions(
        page_no=2,
        page_size=50,
        template_name="stop_fleet",
        state="FAILED",
        trigger="MANUAL",
        cron_execution_name="nightly",
        event_execution_name="alarm",
        start_time=START,
        end_time=END,
        sort="endTime",
        ascending=True,
    )
    assert page.total_count == 51 and page.executions[0].id == SEED["result"]["id"]
    (call,) = oos_server.calls("POST", "/v2/execution/list")
    assert call.signature_ok and call.json == {
        "pageNo": 2,
        "pageSize": 50,
        "template": {"name": "stop_fleet"},
        "state": "FAILED",
        "trigger": "MANUAL",
        "cronExecutionName": "nightly",
        "eventExecutionName": "alarm",
        "startTime": START,
        "endTime": END,
        "sort": "endTime",
        "ascending": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_no": 0}, "page_no"),
        ({"sort": "createTime"}, "sort"),
        ({"state": "PAUSED"}, "state"),
        ({"start_time": -1}, "start_time"),
        ({"ascending": "yes"}, "ascending"),
        ({"template_name": " "}, "template_name"),
    ],
)
def test_list_executions_bad_filters_fail_before_any_call(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        hook_factory(oos_server).list_executions(**kwargs)
    if "page_no" not in kwargs:  # the iterator chooses the pages itself
        with pytest.raises(ValueError, match=message):
            list(hook_factory(oos_server).iter_executions(**kwargs))
    assert oos_server.requests == []


def test_iter_executions_reads_every_page(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    def page(ids: list[str]) -> Reply:
        return Reply.ok({"executions": [{"id": i, "state": "SUCCESS"} for i in ids], "totalCount": 5})

    oos_server.script("POST", "/v2/execution/list", page(["d-1", "d-2"]), page(["d-3", "d-4"]), page(["d-5"]))
    found = [e.id for e in hook_factory(oos_server).iter_executions(page_size=2, template_name="t")]
    assert found == ["d-1", "d-2", "d-3", "d-4", "d-5"]
    bodies = [call.json for call in oos_server.calls("POST", "/v2/execution/list")]
    assert [(b["pageNo"], b["pageSize"], b["template"]) for b in bodies] == [
        (n, 2, {"name": "t"}) for n in (1, 2, 3)
    ]


def test_iter_executions_stops_on_an_empty_page(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    full = Reply.ok({"executions": [{"id": f"d-{i}"} for i in range(100)]})  # no totalCount
    oos_server.script("POST", "/v2/execution/list", full, Reply.ok({"executions": []}))
    assert len(list(hook_factory(oos_server).iter_executions())) == 100
    assert len(oos_server.requests) == 2


def test_get_task_and_its_children(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    task = copy.deepcopy(SEED["result"]["tasks"][0])
    child = {
        **copy.deepcopy(task),
        "id": "t-child-3",
        "loopIndex": 3,
        "state": "FAILED",
        "errorCode": "InstanceNotFound",
    }
    oos_server.script("GET", "/v2/task", Reply.ok({**task, "children": [child]}))
    oos_server.script(
        "POST", "/v2/task/children/list", Reply.ok({"children": [child], "total": 7, "pageNo": 1})
    )
    hook = hook_factory(oos_server)
    detail = hook.get_task("d-1", task["id"], ignore_children=True)
    children = hook.list_task_children("d-1", task["id"], states=["FAILED"], page_size=10)
    assert detail.name == "stop_bcc" and detail.children and detail.children[0].loop_index == 3
    assert children.total_count == 7 and children.tasks[0].error_code == "InstanceNotFound"
    task_call, children_call = oos_server.requests
    assert (task_call.method, task_call.path) == ("GET", "/api/logic/oos/v2/task")
    assert task_call.query == {"dagId": "d-1", "taskId": task["id"], "ignoreChildren": "true"}
    assert children_call.json == {
        "executionId": "d-1",
        "taskId": task["id"],
        "states": ["FAILED"],
        "pageNo": 1,
        "pageSize": 10,
    }
    hook.get_task("d-1", "t-2")
    assert oos_server.requests[-1].query == {"dagId": "d-1", "taskId": "t-2"}


NOT_OFFERED = Reply(status=404, body=b"404 page not found", headers={"Content-Type": "text/plain"})


@pytest.mark.parametrize(
    ("method", "path", "call", "name"),
    [
        ("POST", "/v2/execution/list", lambda h: h.list_executions(), "list executions"),
        ("GET", "/v2/task", lambda h: h.get_task("d-1", "t-1"), "get task"),
        (
            "POST",
            "/v2/task/children/list",
            lambda h: h.list_task_children("d-1", "t-1"),
            "list task children",
        ),
    ],
)
def test_a_404_from_an_openapi_only_call_says_it_is_not_available(
    hook_factory: Callable[..., OosHook],
    oos_server: ScriptedOosServer,
    method: str,
    path: str,
    call: Any,
    name: str,
) -> None:
    oos_server.script(method, path, NOT_OFFERED)
    with pytest.raises(OosCallNotAvailableError) as caught:
        call(hook_factory(oos_server))
    message = str(caught.value)
    assert f"{name} is not available on this endpoint" in message and 'base_path to ""' in message
    assert isinstance(caught.value, OosNotFoundError) and len(oos_server.requests) == 1


def test_a_404_from_get_execution_is_plain_not_found(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer
) -> None:
    oos_server.script(
        "GET", "/v2/execution", Reply(status=404, json={"success": False, "msg": "no d-1", "code": 404})
    )
    with pytest.raises(OosNotFoundError) as caught:
        hook_factory(oos_server).get_execution("d-1")
    assert type(caught.value) is OosNotFoundError


async def test_async_list_calls(
    hook_factory: Callable[..., OosHook], openapi_server: ScriptedOosServer, sessions_closed: None
) -> None:
    openapi_server.script(
        "POST", "/v2/execution/list", Reply.ok({"executions": [SEED["result"]], "totalCount": 1})
    )
    openapi_server.script(
        "POST", "/v2/task/children/list", Reply.ok({"children": [{"id": "t-c", "loopIndex": 0}], "total": 1})
    )
    hook = make_async_hook(hook_factory, openapi_server)
    page = await hook.list_executions(template_name="stop_fleet", sort="startTime", ascending=False)
    children = await hook.list_task_children("d-1", "t-1", states=["FAILED", "SUCCESS"])
    assert page.executions[0].id == SEED["result"]["id"] and children.tasks[0].loop_index == 0
    first, second = openapi_server.requests
    assert (first.path, second.path) == ("/v2/execution/list", "/v2/task/children/list")
    assert all(r.signature_ok for r in openapi_server.requests)
    assert first.headers["content-type"] == "application/json;charset=utf-8"
    assert first.json == {
        "pageNo": 1,
        "pageSize": 100,
        "template": {"name": "stop_fleet"},
        "sort": "startTime",
        "ascending": False,
    }
    assert second.json["states"] == ["FAILED", "SUCCESS"]


async def test_async_404_from_an_openapi_only_call(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    oos_server.script("POST", "/v2/execution/list", NOT_OFFERED)
    with pytest.raises(OosCallNotAvailableError, match="list executions is not available on this endpoint"):
        await make_async_hook(hook_factory, oos_server).list_executions()


async def test_async_bad_page_size_fails_before_any_call(
    hook_factory: Callable[..., OosHook], oos_server: ScriptedOosServer, sessions_closed: None
) -> None:
    with pytest.raises(ValueError, match="page_size"):
        await make_async_hook(hook_factory, oos_server).list_executions(page_size=500)
    assert oos_server.requests == []


def test_errors_name_the_base_path_in_use(
    hook_factory: Callable[..., OosHook], openapi_server: ScriptedOosServer
) -> None:
    openapi_server.script("GET", "/v2/execution", Reply.bce_error(400, "MalformedJSON"))
    with pytest.raises(OosApiError) as caught:
        hook_factory(openapi_server, max_retries=0).get_execution("d-1")
    assert "GET /v2/execution:" in str(caught.value)
