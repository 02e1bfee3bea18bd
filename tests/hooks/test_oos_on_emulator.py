"""The provider's own OosHook / OosAsyncHook against the emulator, end to end over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.exceptions import OosApiError, OosAuthError, OosNotFoundError
from airflow_provider_oos.hooks.oos import OosAsyncHook, OosHook

API = "/api/logic/oos"
FAST_RETRIES = {"retry_wait_min": 0.01, "retry_wait_max": 0.02}


def use_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_json: str, **extra: Any) -> None:
    conn = json.loads(conn_json)
    if extra:
        conn["extra"] = {**conn.get("extra", {}), **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle) -> OosHook:
    oos_emulator.seed_instances(["i-a", "i-b"])
    use_connection(monkeypatch, "oos_default", oos_emulator.conn_json, **FAST_RETRIES)
    return OosHook()


def wait(hook: OosHook, execution_id: str, timeout: float = 15) -> Execution:
    deadline = time.monotonic() + timeout
    while not (execution := hook.get_execution(execution_id)).is_final:
        assert time.monotonic() < deadline, execution.state
        time.sleep(0.02)
    return execution


MAINTENANCE = {
    "name": "maintenance",
    "linear": True,
    "properties": [{"name": "target", "type": "string", "required": True}],
    "operators": [
        {
            "name": "stop",
            "operator": "BCE::BCC::StopInstance",
            "properties": {"instanceId": {"Ref": "target"}},
        },
        {
            "name": "patch",
            "operator": "BCE::Agent::ExecuteShell",
            "properties": {"content": "yum -y update\n# emulator: output patched=yes"},
        },
        {
            "name": "start",
            "operator": "BCE::BCC::StartInstance",
            "properties": {"instanceId": {"Ref": "target"}},
        },
    ],
}


def test_hook_runs_a_template_end_to_end(hook: OosHook, oos_emulator: EmulatorHandle) -> None:
    assert hook.test_connection()[0] is True
    assert hook.check_template(MAINTENANCE).ok
    template_id = hook.create_template(MAINTENANCE)
    stored = hook.get_template("maintenance")
    assert stored.id == template_id and [op.name for op in stored.operators or []] == [
        "stop",
        "patch",
        "start",
    ]
    assert [t.name for t in hook.list_templates(name="maint").templates] == ["maintenance"]
    assert {op.operator for op in hook.list_operators().operators} >= {"BCE::BCC::StopInstance"}

    execution_id = hook.create_execution(
        {"ref": template_id, "name": "maintenance"},
        properties={"target": "i-b"},
        description="patch i-b",
        tags={"airflow-dag": "maintenance"},
    )
    execution = wait(hook, execution_id)
    assert execution.is_successful and execution.trigger == "MANUAL"
    assert execution.task_states() == {"stop": "SUCCESS", "patch": "SUCCESS", "start": "SUCCESS"}
    assert execution.outputs_by_task()["patch"]["patched"] == "yes"
    assert execution.description == "patch i-b"
    assert [(t.key, t.value) for t in execution.tags or [] if t.key != "airflow-create-token"] == [
        ("airflow-dag", "maintenance")
    ]  # every create also carries its create token (issue 10)
    assert oos_emulator.instance_states() == {"i-a": "Running", "i-b": "Running"}
    assert oos_emulator.create_calls() == 1

    renamed = stored.model_copy(update={"name": "maintenance-v2"})
    hook.update_template(renamed)
    assert hook.get_template("maintenance-v2").id == template_id
    hook.delete_template(template_id)
    with pytest.raises(OosNotFoundError):
        hook.get_template("maintenance-v2")


def test_hook_sees_failures_with_step_and_reason(hook: OosHook) -> None:
    template = {
        "name": "failing",
        "operators": [
            {
                "name": "stop-ghost",
                "operator": "BCE::BCC::StopInstance",
                "properties": {"instanceIds": ["i-ghost"]},
            }
        ],
    }
    execution = wait(hook, hook.create_execution(template))
    failed = execution.failed_task()
    assert execution.is_failed and failed is not None and failed.name == "stop-ghost"
    assert "i-ghost" in (failed.reason or "")
    with pytest.raises(OosNotFoundError):
        hook.get_execution("d-doesnotexist")
    dup = {"name": "dup", "operators": [{"name": "a", "operator": "BCE::Agent::ExecuteShell"}]}
    hook.create_template(dup)
    # No `locale` sent: the emulator answers as the service does by default, in Chinese.
    with pytest.raises(OosApiError, match="模板名 'dup' 已存在") as raised:
        hook.create_template(dup)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("locale", "reason", "taken"),
    [
        (None, "BCE::BCC::StopInstance：实例不存在：i-ghost", "模板名 'dup' 已存在"),
        ("zh-cn", "BCE::BCC::StopInstance：实例不存在：i-ghost", "模板名 'dup' 已存在"),
        (
            "en-us",
            "BCE::BCC::StopInstance: instance(s) not found: i-ghost",
            "template name 'dup' already exists",
        ),
    ],
)
def test_the_connection_locale_picks_the_language_of_reasons_and_errors(
    monkeypatch: pytest.MonkeyPatch,
    oos_emulator: EmulatorHandle,
    locale: str | None,
    reason: str,
    taken: str,
) -> None:
    extra = {"locale": locale} if locale else {}
    use_connection(monkeypatch, "oos_default", oos_emulator.conn_json, **FAST_RETRIES, **extra)
    hook = OosHook()
    ghost = {
        "name": "stop-ghost",
        "operator": "BCE::BCC::StopInstance",
        "properties": {"instanceIds": ["i-ghost"]},
    }
    failed = wait(hook, hook.create_execution({"name": "failing", "operators": [ghost]})).failed_task()
    assert failed is not None and failed.reason == reason
    dup = {"name": "dup", "operators": [{"name": "a", "operator": "BCE::Agent::ExecuteShell"}]}
    hook.create_template(dup)
    with pytest.raises(OosApiError) as raised:
        hook.create_template(dup)
    assert taken in str(raised.value)


def test_hook_never_duplicates_a_create_when_the_answer_is_lost(
    hook: OosHook, oos_emulator: EmulatorHandle
) -> None:
    template = {
        "name": "once",
        "operators": [
            {"name": "a", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "true"}}
        ],
    }
    found = []
    for fault in ({"error500": 1.0}, {"drop": 1.0}):
        oos_emulator.set_faults(path=f"{API}/v2/execution", method="POST", **fault)
        found.append(hook.create_execution(template))  # recovered by its create token (issue 10)
    assert oos_emulator.create_calls() == 2 and len(oos_emulator.executions()) == 2
    assert sorted(found) == sorted(e["id"] for e in oos_emulator.executions())


def test_hook_reads_through_flaky_polling(
    monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle
) -> None:
    # One roll per request: 50% faults (500, 503, 429), 18 attempts per call: all 20 reads
    # succeed but for a ~1e-4 chance (20 * 0.5**18). With 9 attempts it failed ~4% of runs.
    use_connection(monkeypatch, "oos_flaky", oos_emulator.conn_json, max_retries=17, **FAST_RETRIES)
    hook = OosHook("oos_flaky")
    template = {
        "name": "t",
        "operators": [
            {"name": "a", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "true"}}
        ],
    }
    execution_id = hook.create_execution(template)
    oos_emulator.set_faults(
        path=f"{API}/v2/execution", method="GET", error500=0.3, error503=0.1, error429=0.1
    )
    for _ in range(20):
        assert hook.get_execution(execution_id).id == execution_id
    served = oos_emulator.admin("GET", "stats")["requests"][f"GET {API}/v2/execution"]
    assert served > 20  # some answers were faults, retried by the hook


def test_hook_reports_bad_credentials(monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle) -> None:
    conn = json.loads(oos_emulator.conn_json) | {"password": "not-the-secret"}
    monkeypatch.setenv("AIRFLOW_CONN_OOS_WRONG", json.dumps(conn))
    hook = OosHook("oos_wrong")
    ok, message = hook.test_connection()
    assert not ok and "credentials" in message and "not-the-secret" not in message
    with pytest.raises(OosAuthError):
        hook.get_execution("d-anything")


def test_hook_with_the_uri_form_and_an_sts_token(
    monkeypatch: pytest.MonkeyPatch, oos_emulator_factory: Any
) -> None:
    emulator = oos_emulator_factory(session_token="sts-e2e-token")
    assert "session_token=sts-e2e-token" in emulator.conn_uri
    monkeypatch.setenv("AIRFLOW_CONN_OOS_STS", emulator.conn_uri)
    hook = OosHook("oos_sts")
    assert hook.test_connection()[0] is True
    template = {
        "name": "t",
        "operators": [
            {"name": "a", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "true"}}
        ],
    }
    assert wait(hook, hook.create_execution(template)).is_successful


async def test_async_hook_polls_the_emulator(
    monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle
) -> None:
    import asyncio

    use_connection(monkeypatch, "oos_async", oos_emulator.conn_json, **FAST_RETRIES)
    sync_hook = OosHook("oos_async")
    template = {
        "name": "t",
        "operators": [
            {
                "name": "a",
                "operator": "BCE::Agent::ExecuteShell",
                "properties": {"content": "# emulator: sleep 5"},
            }
        ],
    }
    execution_id = sync_hook.create_execution(template)
    oos_emulator.admin("POST", f"executions/{execution_id}/pause")  # hold it until we have looked
    async_hook = OosAsyncHook("oos_async")
    paused = await async_hook.get_execution(execution_id)
    assert paused.is_paused and paused.id == execution_id
    oos_emulator.admin("POST", f"executions/{execution_id}/resume")
    states = []
    for _ in range(1000):
        execution = await async_hook.get_execution(execution_id)
        states.append(execution.state)
        if execution.is_final:
            break
        await asyncio.sleep(0.01)
    assert states[-1] == "SUCCESS", states
    assert execution.tasks[0].state == "SUCCESS"


LOOPED = {
    "name": "looped",
    "linear": True,
    "operators": [
        {
            "name": "stop",
            "operator": "BCE::BCC::StopInstance",
            "loops": [{"instanceId": "i-a"}, {"instanceId": "i-ghost"}],
        },
        {"name": "after", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": "true"}},
    ],
}


@pytest.mark.parametrize("base_path", ["/api/logic/oos", ""], ids=["seed-style", "openapi-style"])
def test_hook_and_emulator_agree_on_the_openapi_calls_in_both_path_styles(
    monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle, base_path: str
) -> None:
    oos_emulator.seed_instances(["i-a", "i-b"])
    use_connection(monkeypatch, "oos_style", oos_emulator.conn_json, base_path=base_path, **FAST_RETRIES)
    hook = OosHook("oos_style")
    execution_id = hook.create_execution(
        LOOPED, tags={"airflow-dag": "looped", "team": "ops"}, parallelism=2, manually=False
    )
    final = wait(hook, execution_id)
    assert final.is_failed and final.parallelism == 2 and final.manually is False
    assert {"airflow-dag": "looped", "team": "ops"}.items() <= final.tag_map().items()
    assert all(task.log is None for task in final.all_tasks())  # polled without withLog
    logged = hook.get_execution(execution_id, with_log=True)
    assert all(task.log is not None for task in logged.all_tasks()) and logged.tasks[0].log
    assert all(isinstance(entry.timestamp, str) for task in logged.all_tasks() for entry in task.log or [])
    stop = logged.tasks[0]
    first_failed = logged.failed_task()
    assert first_failed is not None and first_failed.id == stop.id  # the step, then its iteration
    failed = next(child for child in stop.children or [] if child.state == "FAILED")
    assert failed.loop_index == 1 and failed.error_code == "Instance.NotFound"
    assert stop.error_code == "Instance.NotFound" and "第 1 次循环迭代（实例 i-ghost）失败" in (
        stop.reason or ""
    )
    assert [child.loop_index for child in stop.children or []] == [0, 1]

    page = hook.list_executions(template_name="looped", state="FAILED", page_size=10)
    assert [e.id for e in page.executions] == [execution_id] and page.total_count == 1
    assert page.executions[0].tag_map()["team"] == "ops"
    assert [e.id for e in hook.iter_executions(template_name="looped", page_size=1)] == [execution_id]
    task = hook.get_task(execution_id, stop.id or "")
    assert task.id == stop.id and [c.loop_index for c in task.children or []] == [0, 1]
    assert not hook.get_task(execution_id, stop.id or "", ignore_children=True).children
    children = hook.list_task_children(execution_id, stop.id or "", states=["FAILED"], page_size=10)
    assert [c.loop_index for c in children.tasks] == [1] and children.total_count == 1


async def test_async_hook_lists_executions_and_children(
    monkeypatch: pytest.MonkeyPatch, oos_emulator: EmulatorHandle
) -> None:
    oos_emulator.seed_instances(["i-a"])
    use_connection(monkeypatch, "oos_async_list", oos_emulator.conn_json, base_path="", **FAST_RETRIES)
    execution_id = OosHook("oos_async_list").create_execution(LOOPED)
    async_hook = OosAsyncHook("oos_async_list")
    page = await async_hook.list_executions(template_name="looped", page_no=1, page_size=10)
    assert [e.id for e in page.executions] == [execution_id]
    import asyncio

    for _ in range(1000):
        execution = await async_hook.get_execution(execution_id)
        if execution.is_final:
            break
        await asyncio.sleep(0.01)
    stop_id = execution.tasks[0].id or ""
    children = await async_hook.list_task_children(execution_id, stop_id, page_size=10)
    assert [c.loop_index for c in children.tasks] == [0, 1] and children.total_count == 2
