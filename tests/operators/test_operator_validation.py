"""Local input is checked before any API call, with errors that name the field and the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.models import Template
from airflow_provider_oos.client.template_rules import (
    DEFAULT_STEP_RETRIES,
    DEFAULT_STEP_RETRY_INTERVAL_MS,
    DEFAULT_STEP_TIMEOUT_MS,
    prepare_inline_template,
)
from airflow_provider_oos.operators.oos import (
    OosCreateExecutionOperator,
    OosDeleteTemplateOperator,
    OosUpsertTemplateOperator,
)
from tests.support.oos_task_helpers import api_requests, connection_json, shell, task_context, template

GOOD = template("good", shell("a"), shell("b"))


def with_steps(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "t", "operators": list(steps), **extra}


# ---- __init__: non-templated settings fail at DAG parse time ---------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "exactly one of template_ref"),
        ({"template": GOOD, "template_name": "x"}, "got template_name, template"),
        ({"template": GOOD, "template_ref": "tpl-1", "template_name": "x"}, "exactly one"),
        ({"template": GOOD, "poll_interval": 0}, "poll_interval"),
        ({"template": GOOD, "poll_interval": -5}, "poll_interval"),
        ({"template": GOOD, "timeout": 0}, "timeout"),
        ({"template": GOOD, "timeout": "soon"}, "timeout"),
        ({"template": GOOD, "on_paused": "ignore"}, "on_paused"),
        ({"template": GOOD, "oos_conn_id": ""}, "oos_conn_id"),
    ],
)
def test_init_rejects_bad_settings(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        OosCreateExecutionOperator(task_id="t", **kwargs)


def test_template_upkeep_operators_check_their_input() -> None:
    with pytest.raises(ValueError, match="exactly one of template_id"):
        OosDeleteTemplateOperator(task_id="d")
    with pytest.raises(ValueError, match="exactly one of template_id"):
        OosDeleteTemplateOperator(task_id="d", template_id="tpl-1", template_name="n")
    with pytest.raises(ValueError, match="template_name must be a non-empty"):
        OosDeleteTemplateOperator(task_id="d", template_name=" ")
    with pytest.raises(ValueError, match="template is required"):
        OosUpsertTemplateOperator(task_id="u", template=None)  # type: ignore[arg-type]


# ---- template rules --------------------------------------------------------------------------


def test_normalize_fills_explicit_step_settings_and_linear() -> None:
    result = prepare_inline_template(json.dumps(GOOD))
    assert result.linear is True
    for step in result.operators or []:
        assert (step.retries, step.retry_interval, step.timeout) == (
            DEFAULT_STEP_RETRIES,
            DEFAULT_STEP_RETRY_INTERVAL_MS,
            DEFAULT_STEP_TIMEOUT_MS,
        )
    kept = prepare_inline_template(with_steps({**shell("a"), "retries": 2, "timeout": 5}))
    assert kept.operators is not None and (kept.operators[0].retries, kept.operators[0].timeout) == (2, 5)
    original = Template.model_validate(GOOD)
    prepare_inline_template(original)
    assert original.operators is not None and original.operators[0].retries is None  # input untouched


def test_normalize_accepts_a_dag_of_steps() -> None:
    dag = prepare_inline_template(
        with_steps(
            shell("a"), shell("b"), shell("c"), links=[{"src": "a", "dst": "b"}, {"src": "a", "dst": "c"}]
        )
    )
    assert dag.linear is False


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("{not json", ValueError, "template is not valid JSON"),
        (42, TypeError, "template must be a Template, a dict or JSON text"),
        ({"operators": [shell("a")]}, ValueError, r"template.name is required"),
        (with_steps(), ValueError, r"template.operators must list at least one step"),
        (with_steps(shell("a"), shell("a")), ValueError, r"operators\[1\].name 'a' is used twice"),
        (with_steps({"name": "a"}), ValueError, r"operators\[0\].operator .* is required"),
        (
            with_steps({**shell("a"), "retries": -1}),
            ValueError,
            r"operators\[0\].retries must not be negative",
        ),
        (with_steps({**shell("a"), "retryInterval": -1}), ValueError, r"retryInterval must not be negative"),
        (
            with_steps({**shell("a"), "timeout": -1}),
            ValueError,
            r"operators\[0\].timeout must not be negative",
        ),
        (with_steps({**shell("a"), "properties": "x"}), ValueError, "does not match the OOS template shape"),
        (
            with_steps(shell("a"), shell("b"), linear=False),
            ValueError,
            "links are required when linear is false",
        ),
        (
            with_steps(shell("a"), links=[{"src": "a", "dst": "zz"}]),
            ValueError,
            r"links\[0\].dst 'zz' is not a step name",
        ),
        (
            with_steps(shell("a"), shell("b"), links=[{"src": "a", "dst": "b"}, {"src": "b", "dst": "a"}]),
            ValueError,
            "links form a cycle",
        ),
    ],
)
def test_normalize_rejects_bad_templates(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        prepare_inline_template(value)


# ---- execute(): rendered values are checked before any API call -------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"template": with_steps(shell("a"), shell("a"))}, ValueError, "used twice"),
        ({"template": "{broken"}, ValueError, "template is not valid JSON"),
        ({"template": GOOD, "properties": ["a"]}, TypeError, "properties must be a JSON object"),
        ({"template": GOOD, "properties": "[1]"}, TypeError, "properties must be a JSON object"),
        ({"template": GOOD, "properties": {"when": object()}}, TypeError, "properties must hold only JSON"),
        ({"template": GOOD, "tags": {"team": 7}}, TypeError, "tags must map non-empty names"),
        ({"template": GOOD, "description": 5}, TypeError, "description must be a string"),
        ({"template_ref": "nightly"}, ValueError, "template_ref must be a template id starting with 'tpl-'"),
        ({"template_name": ""}, ValueError, "template_name must be a non-empty string"),
    ],
)
def test_execute_validates_before_any_api_call(
    oos_emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", connection_json(oos_emulator))
    op = OosCreateExecutionOperator(task_id="t", poll_interval=0.05, **kwargs)
    with pytest.raises(error, match=message):
        op.execute(task_context())
    assert api_requests(oos_emulator) == 0
    assert oos_emulator.create_calls() == 0
