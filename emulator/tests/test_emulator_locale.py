"""The `locale` query parameter (published on every OOS call): reason texts and error `msg` in
Chinese by default (`zh-cn`), in English with `locale=en-us`; any other value is answered like the
default. Real HTTP; `locale` is signed with the rest of the query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_client import API, Oos, shell, step, tasks_by_name, template
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import signed_headers

STYLES = [pytest.param(API, id="seed-style"), pytest.param("", id="openapi-style")]
# Each value and the language it must be answered in: only the two published spellings count.
LOCALES = [
    (None, "zh"),
    ("zh-cn", "zh"),
    ("en-us", "en"),
    ("fr-fr", "zh"),
    ("en_US", "zh"),
    ("EN-US", "zh"),
    ("", "zh"),
]
FAILING = template(
    shell("patch", "yum update\n# emulator: exit 3"),
    step("after"),
    name="locale-demo",
)
# What the failing run above says, per language.
REASONS = {
    "zh": {
        "execution": "步骤 'patch' 失败：脚本退出码为 3",
        "patch": "脚本退出码为 3",
        "after": "上游步骤失败",
    },
    "en": {
        "execution": "step 'patch' failed: script exited with code 3",
        "patch": "script exited with code 3",
        "after": "an upstream step failed",
    },
}


@pytest.fixture
def oos(oos_emulator: EmulatorHandle) -> Oos:
    oos_emulator.seed_instances(["i-a", "i-b"])
    return Oos(oos_emulator)


def in_locale(oos_emulator: EmulatorHandle, locale: str | None, base_path: str = API) -> Oos:
    return Oos(oos_emulator, base_path=base_path, locale=locale)


def assert_reasons(execution: dict[str, Any], language: str) -> None:
    expected = REASONS[language]
    assert execution["reason"] == expected["execution"], execution["reason"]
    tasks = tasks_by_name(execution)
    assert tasks["patch"]["reason"] == expected["patch"]
    assert tasks["after"]["reason"] == expected["after"]


@pytest.mark.parametrize("base_path", STYLES)
@pytest.mark.parametrize(("locale", "language"), LOCALES)
def test_get_execution_reasons_follow_the_locale(
    oos: Oos, oos_emulator: EmulatorHandle, base_path: str, locale: str | None, language: str
) -> None:
    execution_id = oos.run(FAILING)["id"]
    reader = in_locale(oos_emulator, locale, base_path)
    for with_log in (False, True):  # both cached answers
        execution = reader.get(execution_id, with_log)
        assert execution["state"] == "FAILED"
        assert_reasons(execution, language)
    # The same execution read in the other language at once: one store, two renderings.
    assert_reasons(in_locale(oos_emulator, "en-us", base_path).get(execution_id), "en")
    assert_reasons(in_locale(oos_emulator, None, base_path).get(execution_id), "zh")


@pytest.mark.parametrize(("locale", "language"), [(None, "zh"), ("en-us", "en"), ("ja-jp", "zh")])
def test_list_task_detail_and_children_follow_the_locale(
    oos: Oos, oos_emulator: EmulatorHandle, locale: str | None, language: str
) -> None:
    loop = step("stop", "BCE::BCC::StopInstance", loops=[{"instanceId": "i-a"}, {"instanceId": "i-ghost"}])
    execution = oos.run(template(loop, name="locale-loop"))
    reader = in_locale(oos_emulator, locale, "")
    listed = reader.ok("POST", "/v2/execution/list", body={"pageNo": 1, "pageSize": 10})["executions"]
    (found,) = [e for e in listed if e["id"] == execution["id"]]
    task_id = execution["tasks"][0]["id"]
    detail = reader.ok("GET", "/v2/task", {"dagId": execution["id"], "taskId": task_id})
    children = reader.ok(
        "POST",
        "/v2/task/children/list",
        body={"executionId": execution["id"], "taskId": task_id, "pageNo": 1, "pageSize": 10},
    )["children"]
    failed_child = next(child for child in children if child["state"] == "FAILED")
    if language == "zh":
        assert found["reason"].startswith("步骤 'stop' 失败：第 1 次循环迭代（实例 i-ghost）失败")
        assert detail["reason"].startswith("第 1 次循环迭代（实例 i-ghost）失败：")
        assert "2 次迭代中 1 次失败" in detail["reason"]
        assert failed_child["reason"] == "BCE::BCC::StopInstance：实例不存在：i-ghost"
    else:
        assert found["reason"].startswith("step 'stop' failed: loop iteration 1 on i-ghost failed")
        assert detail["reason"].startswith("loop iteration 1 on i-ghost failed: ")
        assert "(1 of 2 iterations failed, 0 allowed)" in detail["reason"]
        assert failed_child["reason"] == "BCE::BCC::StopInstance: instance(s) not found: i-ghost"
    assert detail["children"][1]["reason"] == failed_child["reason"]
    assert failed_child["errorCode"] == "Instance.NotFound"  # codes are never translated


@pytest.mark.parametrize("base_path", STYLES)
def test_error_msg_follows_the_locale(oos_emulator: EmulatorHandle, base_path: str) -> None:
    zh, en, other = (in_locale(oos_emulator, value, base_path) for value in (None, "en-us", "de-de"))
    # Served by the gateway (GET execution) and by the routes (template calls, unknown paths).
    assert zh.error(404, "GET", "/v2/execution", {"id": "d-nope"}) == "执行 d-nope 不存在"
    assert en.error(404, "GET", "/v2/execution", {"id": "d-nope"}) == "execution d-nope not found"
    assert other.error(404, "GET", "/v2/execution", {"id": "d-nope"}) == "执行 d-nope 不存在"
    assert zh.error(400, "GET", "/v2/execution", {"id": "d-x", "withLog": "maybe"}).startswith(
        "查询参数 withLog 必须是 true 或 false"
    )
    assert (
        en.error(400, "GET", "/v2/template", {})
        == "query parameter name (the template name) or id is required"
    )
    assert zh.error(400, "GET", "/v2/template", {}) == "缺少查询参数 name（模板名）或 id"
    bad = {"name": "t", "operators": [{"name": "s", "operator": "BCE::BCC::StopInstance", "retries": -1}]}
    assert (
        en.error(400, "POST", "/v2/template", body=bad)
        == "step 's': retries must be a non-negative integer, got -1"
    )
    assert zh.error(400, "POST", "/v2/template", body=bad) == "步骤 's'：retries 必须是非负整数，收到 -1"
    assert zh.error(400, "POST", "/v2/execution/list", body={}).startswith("缺少必填参数 pageNo and pageSize")
    assert zh.error(404, "POST", "/v3/operator/list", body={}).endswith("/v3/operator/list：接口不存在")
    assert en.error(404, "POST", "/v3/operator/list", body={}).endswith("/v3/operator/list: Not Found")


def test_check_template_reason_follows_the_locale(oos_emulator: EmulatorHandle) -> None:
    links = {"name": "t", "linear": False, "operators": [step("a"), step("b")], "links": []}
    zh = in_locale(oos_emulator, None).ok("POST", "/v2/template/check", body=links)
    en = in_locale(oos_emulator, "en-us").ok("POST", "/v2/template/check", body=links)
    assert zh == {"isValid": False, "reason": "template.linear 为 false 时 template.links 必填"}
    assert en == {"isValid": False, "reason": "template.links is required when template.linear is false"}


def test_locale_is_part_of_the_signed_query(oos_emulator: EmulatorHandle) -> None:
    """Signed without `locale`, sent with it: refused, as any query parameter added after signing."""
    url = f"{oos_emulator.url}{API}/v2/execution?id=d-nope"
    oos = Oos(oos_emulator)
    headers = signed_headers(oos.credentials, "GET", url)
    refused = requests.get(url + "&locale=en-us", headers=headers, timeout=10)
    assert refused.status_code == 400 and refused.json()["code"] == "SignatureDoesNotMatch", refused.text
    signed = signed_headers(oos.credentials, "GET", url + "&locale=en-us")
    answered = requests.get(url + "&locale=en-us", headers=signed, timeout=10)
    assert answered.status_code == 404 and answered.json()["msg"] == "execution d-nope not found"


def test_both_languages_survive_a_restart(oos_emulator_factory: Any, tmp_path: Path) -> None:
    emulator = oos_emulator_factory(db_path=str(tmp_path / "oos.db"), instances=["i-a"])
    execution_id = Oos(emulator).run(FAILING)["id"]
    emulator.restart()
    assert_reasons(in_locale(emulator, "en-us").get(execution_id), "en")
    assert_reasons(in_locale(emulator, None).get(execution_id), "zh")


def test_cancel_reason_follows_the_locale(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    execution_id = oos.create(template(shell("long", "# emulator: sleep 600")))
    oos.wait(execution_id, {"RUNNING"})
    oos_emulator.admin("POST", f"executions/{execution_id}/cancel")
    assert in_locale(oos_emulator, None).get(execution_id)["reason"] == "执行被用户取消"
    canceled = in_locale(oos_emulator, "en-us").get(execution_id)
    assert canceled["reason"] == "execution canceled by user"
    assert tasks_by_name(canceled)["long"]["reason"] == "execution canceled by user"
