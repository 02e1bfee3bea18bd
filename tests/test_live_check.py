"""`make live-check` against the emulator, so it cannot rot: the command itself runs as a subprocess
(read-only in both path styles, with ``--create-from`` in each style, with STS credentials, with a
wrong key), and its report is checked; plus the pure parts (settings, shapes, redaction)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import BceCredentials
from airflow_provider_oos.client.models import Execution
from airflow_provider_oos.hooks.oos import OosHook
from airflow_provider_oos.live_check.recording import LiveCheckHook
from airflow_provider_oos.live_check.report import Redactor
from airflow_provider_oos.live_check.settings import LiveCheckSettingsError, config_from_env
from airflow_provider_oos.live_check.shapes import kept_raw, shape_of, value_pattern
from tests.support.oos_task_helpers import wait_for_state

SEED = "/api/logic/oos"
OPENAPI = ""
STEP = {"retries": 0, "retryInterval": 1000, "timeout": 60000}
READ_STEPS = [
    "list templates",
    "list operators v1",
    "list operators v2",
    "list executions",
    "get execution",
    "get execution withLog",
    "get task",
    "list task children",
]


def loop_template(name: str, script: str = "echo hi\n# emulator: output DONE=yes") -> dict[str, Any]:
    """A stop step looping over two instances (so a task has children), then a shell step."""
    return {
        "name": name,
        "linear": True,
        "operators": [
            {
                "name": "stop",
                "operator": "BCE::BCC::StopInstance",
                "loops": [{"instanceId": "i-lc-1"}, {"instanceId": "i-lc-2"}],
                "properties": {},
                **STEP,
            },
            {"name": "work", "operator": "BCE::Agent::ExecuteShell", "properties": {"content": script}}
            | STEP,
        ],
    }


def run_live_check(
    emulator: EmulatorHandle, tmp_path: Path, *args: str, secret_key: str | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """The command as a user runs it; returns the process, the JSON report and the Markdown one."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OOS_")}
    env.update(
        OOS_ENDPOINT=emulator.url,
        OOS_ACCESS_KEY=emulator.access_key,
        OOS_SECRET_KEY=secret_key or emulator.secret_key,
    )
    if emulator.session_token:
        env["OOS_SESSION_TOKEN"] = emulator.session_token
    report = tmp_path / "out" / "report.json"
    command = [sys.executable, "-m", "airflow_provider_oos.live_check", "--report", str(report), *args]
    process = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert report.exists(), process.stdout + process.stderr
    return process, json.loads(report.read_text()), report.with_suffix(".md").read_text()


def checks_of(report: dict[str, Any], base_path: str) -> dict[str, dict[str, Any]]:
    return {c["step"]: c for c in report["checks"] if c["base_path"] == base_path and c["step"] != "probe"}


def assert_answered(check: dict[str, Any]) -> None:
    assert check["outcome"] == "ok", check
    assert check["http"], check
    assert all(x["status"] == 200 for x in check["http"]), check
    assert all(x["request_id"] for x in check["http"]), check  # the service's request ids, kept


@pytest.fixture
def seeded(oos_emulator: EmulatorHandle, hook_factory: Callable[..., OosHook]) -> tuple[OosHook, str]:
    """The emulator with one template and one finished execution of it (a loop step: children)."""
    oos_emulator.seed_instances(["i-lc-1", "i-lc-2"])
    hook = hook_factory(oos_emulator)
    template_id = hook.create_template(loop_template("lc-seeded"))
    execution_id = hook.create_execution({"ref": template_id, "name": "lc-seeded"})
    wait_for_state(oos_emulator, execution_id, {"SUCCESS"})
    return hook, execution_id


def test_read_only_in_both_path_styles(
    oos_emulator: EmulatorHandle, seeded: tuple[OosHook, str], tmp_path: Path
) -> None:
    _, execution_id = seeded
    creates_before = oos_emulator.create_calls()
    process, report, markdown = run_live_check(oos_emulator, tmp_path)

    assert process.returncode == 0, process.stdout + process.stderr
    assert report["result"] == "passed" and report["problems"] == []
    assert report["path_styles"] == {
        f"base_path {SEED!r}": "answers",
        'base_path "" (OpenAPI style)': "answers",
    }
    assert oos_emulator.create_calls() == creates_before  # read-only: nothing was started
    assert report["created_execution"] is None
    for style in (SEED, OPENAPI):
        steps = checks_of(report, style)
        assert list(steps) == READ_STEPS
        for check in steps.values():
            assert_answered(check)
        assert steps["get execution"]["parsed"].startswith(f"Execution {execution_id}: state SUCCESS")
        assert steps["get execution"]["parsed"].endswith(", 0 log line(s)")  # no log without withLog
        assert "0 log line(s)" not in steps["get execution withLog"]["parsed"]
        assert "withLog=true" in steps["get execution withLog"]["http"][0]["path"]
        assert steps["get task"]["parsed"].endswith("(stop): state SUCCESS, 2 child(ren)")
        assert steps["list task children"]["parsed"].startswith("TaskPage: 2 child task(s)")
        # The v2 operator list adds `categories`, which the models keep raw: the report names it.
        assert {"path": "categories", "kind": "unknown", "count": 1} in steps["list operators v2"]["kept_raw"]
        assert steps["list operators v1"]["kept_raw"] == []
        # Shapes without values: the tasks' log timestamps are typed, not shown.
        task_shape = steps["get execution withLog"]["shape"]["tasks"][0]
        assert task_shape["log"][0]["timestamp"] == "string"
        assert steps["get execution"]["shape"]["id"] == "string"
        assert "log" not in steps["get execution"]["shape"]["tasks"][0]
    assert any("withLog gave" in note and "timestamp forms" in note for note in report["notes"])
    assert "# OOS live check: passed" in markdown and "| get task | get task |" in markdown
    assert execution_id in process.stdout


def test_create_from_with_sts_credentials_keeps_every_secret_out(
    oos_emulator_factory: Callable[..., EmulatorHandle], tmp_path: Path
) -> None:
    secret, token = "lc-secret-Key/9+x", "lc-sts-Token-Q7w"
    emulator = oos_emulator_factory(secret_key=secret, session_token=token, instances=["i-lc-1", "i-lc-2"])
    environ = {"OOS_ENDPOINT": emulator.url, "OOS_ACCESS_KEY": emulator.access_key, "OOS_SECRET_KEY": secret}
    config = config_from_env({**environ, "OOS_SESSION_TOKEN": token})
    LiveCheckHook(config, []).create_template(loop_template("lc-create"))

    process, report, markdown = run_live_check(
        emulator, tmp_path, "--create-from", "lc-create", "--poll-interval", "0.2", "--timeout", "120"
    )

    assert process.returncode == 0, process.stdout + process.stderr
    assert report["result"] == "passed" and report["sts_token_used"] is True
    created = report["created_execution"]
    assert created["state"] == "SUCCESS"
    executions = emulator.executions()
    assert [e["id"] for e in executions] == [created["execution_id"]]  # exactly one started
    steps = checks_of(report, OPENAPI)  # the create goes in the OpenAPI style when it answers
    assert list(steps) == ["get template", "create execution", "wait", *READ_STEPS]
    assert steps["create execution"]["parsed"] == f"id {created['execution_id']}"
    assert steps["wait"]["parsed"].startswith(f"execution {created['execution_id']} ended SUCCESS")
    assert steps["get execution"]["parsed"].startswith(f"Execution {created['execution_id']}")
    assert list(checks_of(report, SEED)) == READ_STEPS
    for text in (json.dumps(report), markdown, process.stdout, process.stderr):
        assert secret not in text and json.dumps(secret)[1:-1] not in text
        assert token not in text
        assert emulator.access_key not in text  # shown masked only
    assert report["access_key_id"] == emulator.access_key[:4] + "…"


def test_create_from_in_the_seed_style_reports_a_failed_execution(
    oos_emulator: EmulatorHandle, hook_factory: Callable[..., OosHook], tmp_path: Path
) -> None:
    oos_emulator.seed_instances(["i-lc-1", "i-lc-2"])
    hook_factory(oos_emulator).create_template(loop_template("lc-fails", "echo bad\n# emulator: exit 3"))

    process, report, _ = run_live_check(
        oos_emulator, tmp_path, "--base-path", SEED, "--create-from", "lc-fails", "--poll-interval", "0.2"
    )

    # The API answered as published: a failed run of the user's template is a note, not a problem.
    assert process.returncode == 0, process.stdout + process.stderr
    assert report["created_execution"]["state"] == "FAILED"
    assert {c["base_path"] for c in report["checks"] if c["step"] != "probe"} == {SEED}
    steps = checks_of(report, SEED)
    assert steps["create execution"]["http"][0]["path"] == f"{SEED}/v2/execution"
    failure = next(note for note in report["notes"] if note.startswith("the created execution failed"))
    assert "Failing step: 'work'" in failure
    assert "OOS execution" in failure and "FAILED" in failure


def test_a_wrong_secret_key_is_a_problem_and_stays_out_of_the_report(
    oos_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    wrong = "not-the-right-secret-key-123"
    process, report, markdown = run_live_check(oos_emulator, tmp_path, secret_key=wrong)

    assert process.returncode == 1
    assert report["result"] == "failed"
    assert [c["step"] for c in report["checks"]] == ["probe", "probe"]
    for check in report["checks"]:  # the emulator answers a bad signature as its gateway does: 400
        assert check["outcome"] == "failed" and check["http"][0]["status"] == 400
        assert "SignatureDoesNotMatch" in check["error"] and check["http"][0]["request_id"]
    assert report["problems"][-1].startswith("no path style answers")
    assert "PROBLEM: probe" in process.stdout
    for text in (json.dumps(report), markdown, process.stdout, process.stderr):
        assert wrong not in text


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OOS_ACCESS_KEY": "ak", "OOS_SECRET_KEY": "sk"}, "OOS_ENDPOINT is not set"),
        ({"OOS_ENDPOINT": "oos.bj.baidubce.com", "OOS_SECRET_KEY": "sk"}, "OOS_ACCESS_KEY is not set"),
        ({"OOS_ENDPOINT": "oos.bj.baidubce.com", "OOS_ACCESS_KEY": "ak"}, "OOS_SECRET_KEY is not set"),
        (
            {"OOS_ENDPOINT": "ftp://x", "OOS_ACCESS_KEY": "ak", "OOS_SECRET_KEY": "sk"},
            "OOS_ENDPOINT (host of the connection)",
        ),
        (
            {"OOS_REGION": "B J", "OOS_ACCESS_KEY": "ak", "OOS_SECRET_KEY": "sk"},
            "OOS_REGION (extra 'region' of the connection)",
        ),
    ],
)
def test_settings_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(LiveCheckSettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        config_from_env(environ)


def test_settings_region_alone_and_sts_token() -> None:
    config = config_from_env(
        {"OOS_REGION": "gz", "OOS_ACCESS_KEY": "ak", "OOS_SECRET_KEY": "sk", "OOS_SESSION_TOKEN": "tok"}
    )
    assert config.endpoint == "https://oos.gz.baidubce.com"
    assert config.credentials.session_token == "tok"


def test_a_missing_variable_fails_before_any_call(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OOS_")}
    env.update(OOS_ENDPOINT="http://127.0.0.1:9", OOS_ACCESS_KEY="ak")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "airflow_provider_oos.live_check", "--report", str(report)]
    process = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert process.returncode == 2
    assert "OOS_SECRET_KEY is not set" in process.stderr
    assert not report.exists()


def test_bad_options_name_the_option() -> None:
    from airflow_provider_oos.live_check.cli import UsageError, options_from, parser

    for argv, named in [
        (["--properties", "[1]"], "--properties must be a JSON object"),
        (["--properties", "{"], "--properties is not valid JSON"),
        (["--base-path", "/v2"], "--base-path must be"),
        (["--timeout", "0"], "--timeout must be"),
        (["--create-from", " "], "--create-from is empty"),
    ]:
        with pytest.raises(UsageError, match=named):
            options_from(parser().parse_args(argv))


def test_shape_of_merges_list_items_and_hides_values() -> None:
    shape = shape_of({"a": [{"x": 1}, {"y": "s"}, {"x": None}], "b": True, "c": [], "d": [1, "t"]})
    assert shape == {
        "a": [{"x": {"oneOf": ["number", "null"]}, "y": "string"}],
        "b": "boolean",
        "c": [],
        "d": [{"oneOf": ["number", "string"]}],
    }
    assert value_pattern("2026-01-02 03:04:05.678") == "9999-99-99 99:99:99.999"
    assert value_pattern(1700000000000) == "number"


def test_kept_raw_tells_unknown_fields_from_unreadable_ones() -> None:
    execution = Execution.model_validate(
        {
            "id": "d-1",
            "state": "RUNNING",
            "createdTimestamp": "yesterday",  # a known field whose value does not fit: kept raw
            "brandNew": {"k": 1},
            "tasks": [{"id": "t-1", "state": "RUNNING", "newTaskField": 1}, {"id": "t-2", "newTaskField": 2}],
        }
    )
    assert kept_raw(execution) == [
        {"path": "brandNew", "kind": "unknown", "count": 1},
        {"path": "createdTimestamp", "kind": "unreadable", "count": 1},
        {"path": "tasks[].newTaskField", "kind": "unknown", "count": 2},
    ]


def test_redactor_removes_secrets_in_plain_and_json_escaped_form() -> None:
    redact = Redactor(BceCredentials("AKIDEXAMPLE123", 'sk"with\\quote', "sts-token"))
    text = json.dumps({"a": 'sk"with\\quote', "b": "x sts-token y", "c": "AKIDEXAMPLE123"})
    cleaned = redact(text)
    assert "quote" not in cleaned and "sts-token" not in cleaned and "AKIDEXAMPLE123" not in cleaned
    assert "AKID…" in cleaned
