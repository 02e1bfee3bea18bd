"""Every request the hooks make, checked against the published operations (oos_operations.json).

Each hook call (sync and async) runs over real HTTP against a recording server that answers in
the current published shape, under each base-path setting: the default, the seed's explicit
`/api/logic/oos` and the OpenAPI style (no base path). Every recorded request must be a published
operation under the configured base path, with published query/body names only, required fields
present, execution tags as tagKey/tagValue, template tags as key/value and pageSize <= 100.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.spec import conformance
from tests.spec.spec_server import LIST_TOTAL, SpecServer
from tests.support.oos_server import Recorded

SEED_BASE = "/api/logic/oos"
# (id, extra base_path value or None for "not set", the base path requests must go under)
SETTINGS = [("default", None, SEED_BASE), ("seed", SEED_BASE, SEED_BASE), ("openapi", "", "")]
START, END = 1_795_000_000_000, 1_795_086_400_000

STEP = {"name": "stop", "operator": "BCE::BCC::StopInstance", "properties": {"instances": [{"Ref": "ids"}]}}
CHECKED_STEP = {**STEP, "retries": 0, "retryInterval": 300000, "timeout": 21600000}
TEMPLATE = {"name": "stop_fleet", "operators": [STEP], "tags": [{"key": "team", "value": "ops"}]}


@pytest.fixture(params=SETTINGS, ids=[s[0] for s in SETTINGS])
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SpecServer]:
    _name, extra, base = request.param
    with SpecServer(base_path=base, running_polls=0) as spec_server:
        conn = spec_server.conn_json() if extra is not None else _without_base_path(spec_server)
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", conn)
        yield spec_server


def _without_base_path(server: SpecServer) -> str:
    import json

    conn = json.loads(server.conn_json())
    del conn["extra"]["base_path"]
    return json.dumps(conn)


def sync_hook() -> Any:
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook()


def problems_of(requests: list[Recorded], base_path: str) -> list[str]:
    return [
        f"{r.method} {r.path}: {problem}"
        for r in requests
        for problem in conformance.check_request(r.method, r.path, r.query, r.json, base_path=base_path)
    ]


def op_names(requests: list[Recorded], base_path: str) -> list[str]:
    names = []
    for r in requests:
        after = conformance.split_base(r.path, base_path)
        op = conformance.find(r.method, after) if after is not None else None
        names.append(op.name if op else f"?{r.method} {r.path}")
    return names


# -- every sync call: (id, the call, the operations it must use) --------------------------------

SYNC_CALLS: list[tuple[str, Callable[[Any], Any], set[str]]] = [
    ("create_execution inline",
     lambda h: h.create_execution(TEMPLATE, properties={"ids": ["i-a"]}, description="nightly",
                                  tags={"team": "ops", "airflow-dag": "d"}, parallelism=2, manually=False),
     {"create_execution"}),
    ("create_execution ref",
     lambda h: h.create_execution({"ref": "tpl-abc", "name": "stop_fleet"},
                                  tags=[{"tagKey": "team", "tagValue": "ops"}]),
     {"create_execution"}),
    ("get_execution", lambda h: h.get_execution("d-1"), {"get_execution"}),
    ("get_execution withLog", lambda h: h.get_execution("d-1", with_log=True), {"get_execution"}),
    ("list_executions defaults", lambda h: h.list_executions(), {"list_executions"}),
    ("list_executions every filter",
     lambda h: h.list_executions(page_no=2, page_size=50, template_name="stop_fleet", state="FAILED",
                                 trigger="MANUAL", cron_execution_name="nightly",
                                 event_execution_name="alarm",
                                 start_time=START, end_time=END, sort="endTime", ascending=True),
     {"list_executions"}),
    ("iter_executions all pages", lambda h: list(h.iter_executions(template_name="stop_fleet")),
     {"list_executions"}),
    ("get_task", lambda h: h.get_task("d-1", "t-stop"), {"get_task"}),
    ("get_task ignore_children", lambda h: h.get_task("d-1", "t-stop", ignore_children=True), {"get_task"}),
    ("list_task_children",
     lambda h: h.list_task_children("d-1", "t-stop", states=["FAILED"], page_no=1, page_size=100),
     {"list_task_children"}),
    ("check_template", lambda h: h.check_template({**TEMPLATE, "operators": [CHECKED_STEP], "linear": True}),
     {"check_template"}),
    ("create_template", lambda h: h.create_template(TEMPLATE), {"create_template"}),
    ("update_template", lambda h: h.update_template({**TEMPLATE, "id": "tpl-spec0001"}), {"update_template"}),
    ("delete_template", lambda h: h.delete_template("tpl-spec0001"), {"delete_template"}),
    ("get_template", lambda h: h.get_template("stop_fleet", "INDIVIDUAL"), {"get_template"}),
    ("list_templates", lambda h: h.list_templates(name="stop_fleet", template_type="INDIVIDUAL"),
     {"list_templates"}),
    ("list_operators v1", lambda h: h.list_operators(), {"list_operators_v1"}),
    ("list_operators v2", lambda h: h.list_operators(api_version="v2"), {"list_operators_v2"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "expected"), [(c[1], c[2]) for c in SYNC_CALLS], ids=[c[0] for c in SYNC_CALLS]
)
def test_sync_call_sends_published_requests(
    server: SpecServer, call: Callable[[Any], Any], expected: set[str]
) -> None:
    call(sync_hook())
    requests = server.recorded()
    assert requests, "the call sent nothing"
    assert all(r.signature_ok for r in requests)
    assert set(op_names(requests, server.base_path)) == expected
    assert problems_of(requests, server.base_path) == []


@pytest.fixture(params=SETTINGS[1:], ids=[s[0] for s in SETTINGS[1:]])
def en_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SpecServer]:
    """A recording server in each path style, the default connection asking for English answers."""
    with SpecServer(base_path=request.param[2], running_polls=0) as spec_server:
        monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", spec_server.conn_json(locale="en-us"))
        yield spec_server


@pytest.mark.parametrize(
    ("call", "expected"), [(c[1], c[2]) for c in SYNC_CALLS], ids=[c[0] for c in SYNC_CALLS]
)
def test_sync_call_sends_the_locale_on_every_request(
    en_server: SpecServer, call: Callable[[Any], Any], expected: set[str]
) -> None:
    call(sync_hook())
    requests = en_server.recorded()
    assert set(op_names(requests, en_server.base_path)) == expected
    # Signed like any query parameter: the server checked each signature over the query it got.
    assert [(r.query.get("locale"), r.signature_ok) for r in requests] == [("en-us", True)] * len(requests)
    assert problems_of(requests, en_server.base_path) == []


def test_every_published_operation_has_a_hook_call() -> None:
    covered = set().union(*(c[2] for c in SYNC_CALLS))
    assert covered == {op.name for op in conformance.operations()}


# -- details the generic check does not spell out -------------------------------------------------


def test_execution_tags_go_as_tag_key_and_value(server: SpecServer) -> None:
    hook = sync_hook()
    hook.create_execution(TEMPLATE, tags={"team": "ops", "airflow-dag": "d"})
    hook.create_execution(
        {"ref": "tpl-abc", "name": "stop_fleet"}, tags=[{"tagKey": "env", "tagValue": "prod"}]
    )
    first, second = (r.json for r in server.op_calls("create_execution"))
    for body in (first, second):  # other tags (a create token, say) may travel along, in the same shape
        assert all(set(tag) == {"tagKey", "tagValue"} for tag in body["tags"]), body["tags"]
    assert [t for t in first["tags"] if t["tagKey"] in ("team", "airflow-dag")] == [
        {"tagKey": "team", "tagValue": "ops"},
        {"tagKey": "airflow-dag", "tagValue": "d"},
    ]
    assert {"tagKey": "env", "tagValue": "prod"} in second["tags"]
    assert second["template"] == {"ref": "tpl-abc", "name": "stop_fleet"}
    # Template tags inside the inline template stay key/value.
    assert first["template"]["tags"] == [{"key": "team", "value": "ops"}]


def test_parallelism_and_manually_are_sent_as_published(server: SpecServer) -> None:
    sync_hook().create_execution(TEMPLATE, parallelism=3, manually=True)
    (body,) = (r.json for r in server.op_calls("create_execution"))
    assert body["parallelism"] == 3 and body["manually"] is True


def test_template_tags_go_as_key_and_value(server: SpecServer) -> None:
    hook = sync_hook()
    hook.create_template(TEMPLATE)
    hook.update_template({**TEMPLATE, "id": "tpl-spec0001"})
    for request in server.op_calls("create_template") + server.op_calls("update_template"):
        assert request.json["tags"] == [{"key": "team", "value": "ops"}]


def test_with_log_is_asked_only_when_wanted(server: SpecServer) -> None:
    hook = sync_hook()
    plain = hook.get_execution("d-1")
    logged = hook.get_execution("d-2", with_log=True)
    first, second = server.op_calls("get_execution")
    assert first.query.get("withLog", "false") == "false"
    assert second.query == {"id": "d-2", "withLog": "true"}
    assert all(task.log is None for task in plain.all_tasks())  # not asked: None, not []
    assert logged.tasks[0].log and isinstance(logged.tasks[0].log[-1].timestamp, str)


def test_list_executions_filters_travel_under_their_published_names(server: SpecServer) -> None:
    SYNC_CALLS[5][1](sync_hook())
    (request,) = server.op_calls("list_executions")
    assert request.json == {
        "pageNo": 2, "pageSize": 50, "template": {"name": "stop_fleet"}, "state": "FAILED",
        "trigger": "MANUAL", "cronExecutionName": "nightly", "eventExecutionName": "alarm",
        "startTime": START, "endTime": END, "sort": "endTime", "ascending": True,
    }  # fmt: skip


def test_iter_executions_reads_every_page_at_most_100_at_a_time(server: SpecServer) -> None:
    executions = list(sync_hook().iter_executions(template_name="stop_fleet"))
    assert len(executions) == LIST_TOTAL and len({e.id for e in executions}) == LIST_TOTAL
    bodies = [r.json for r in server.op_calls("list_executions")]
    assert [b["pageNo"] for b in bodies] == [1, 2]
    assert all(1 <= b["pageSize"] <= 100 for b in bodies)


@pytest.mark.parametrize("size", [0, 101, 500])
def test_page_size_beyond_the_published_limit_is_never_sent(server: SpecServer, size: int) -> None:
    try:
        sync_hook().list_executions(page_size=size)
    except ValueError as err:
        assert "page_size" in str(err)
    assert all(1 <= r.json["pageSize"] <= 100 for r in server.op_calls("list_executions"))
    assert problems_of(server.recorded(), server.base_path) == []


def test_task_calls_use_published_names(server: SpecServer) -> None:
    hook = sync_hook()
    hook.get_task("d-1", "t-stop", ignore_children=True)
    hook.list_task_children("d-1", "t-stop", states=["FAILED"])
    (task,) = server.op_calls("get_task")
    (children,) = server.op_calls("list_task_children")
    assert task.query == {"dagId": "d-1", "taskId": "t-stop", "ignoreChildren": "true"}
    assert children.json["executionId"] == "d-1" and children.json["taskId"] == "t-stop"
    assert children.json["states"] == ["FAILED"] and 1 <= children.json["pageSize"] <= 100


def test_connection_test_probes_only_published_operations(server: SpecServer) -> None:
    ok, message = sync_hook().test_connection()
    assert ok, message
    requests = server.recorded()
    assert requests
    for request in requests:  # a probe of the other style is fine, as long as it is published there
        problems = [
            conformance.check_request(
                request.method, request.path, request.query, request.json, base_path=base
            )
            for base in (SEED_BASE, "")
        ]
        assert [] in problems, f"{request.method} {request.path}: {problems}"


# -- async -----------------------------------------------------------------------------------------


async def _run_async(call: Callable[[Any], Any]) -> Any:
    from airflow_provider_oos.hooks.oos import OosAsyncHook, close_all_sessions

    try:
        async with OosAsyncHook() as hook:
            return await call(hook)
    finally:
        await close_all_sessions()


ASYNC_CALLS: list[tuple[str, Callable[[Any], Any], set[str]]] = [
    ("get_execution", lambda h: h.get_execution("d-1"), {"get_execution"}),
    ("get_execution withLog", lambda h: h.get_execution("d-1", with_log=True), {"get_execution"}),
    ("list_executions every filter",
     lambda h: h.list_executions(page_no=1, page_size=100, template_name="stop_fleet", state="RUNNING",
                                 trigger="MANUAL", cron_execution_name="nightly",
                                 event_execution_name="alarm",
                                 start_time=START, end_time=END, sort="startTime", ascending=False),
     {"list_executions"}),
    ("list_task_children", lambda h: h.list_task_children("d-1", "t-stop", states=["FAILED", "SUCCESS"]),
     {"list_task_children"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "expected"), [(c[1], c[2]) for c in ASYNC_CALLS], ids=[c[0] for c in ASYNC_CALLS]
)
async def test_async_call_sends_published_requests(
    server: SpecServer, call: Callable[[Any], Any], expected: set[str]
) -> None:
    await _run_async(call)
    requests = await asyncio.to_thread(server.recorded)
    assert requests and all(r.signature_ok for r in requests)
    assert set(op_names(requests, server.base_path)) == expected
    assert problems_of(requests, server.base_path) == []


@pytest.mark.parametrize(
    ("call", "expected"), [(c[1], c[2]) for c in ASYNC_CALLS], ids=[c[0] for c in ASYNC_CALLS]
)
async def test_async_call_sends_the_locale_on_every_request(
    en_server: SpecServer, call: Callable[[Any], Any], expected: set[str]
) -> None:
    await _run_async(call)
    requests = await asyncio.to_thread(en_server.recorded)
    assert set(op_names(requests, en_server.base_path)) == expected
    assert [(r.query.get("locale"), r.signature_ok) for r in requests] == [("en-us", True)] * len(requests)
    assert problems_of(requests, en_server.base_path) == []


async def test_async_with_log_is_asked_only_when_wanted(server: SpecServer) -> None:
    plain = await _run_async(lambda h: h.get_execution("d-1"))
    logged = await _run_async(lambda h: h.get_execution("d-2", with_log=True))
    first, second = server.op_calls("get_execution")
    assert first.query.get("withLog", "false") == "false"
    assert second.query == {"id": "d-2", "withLog": "true"}
    assert all(task.log is None for task in plain.all_tasks())
    assert logged.tasks[0].log
