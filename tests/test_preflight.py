"""Preflight: property checks (pure) and whole preflights against the emulator, which create nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.models import Property, Template
from airflow_provider_oos.exceptions import OosPreflightError
from airflow_provider_oos.hooks.oos import OosHook
from airflow_provider_oos.operators.preflight import OosPreflightOperator
from airflow_provider_oos.rules.preflight import (
    PreflightReport,
    check_properties,
    check_value,
    run_preflight,
)
from airflow_provider_oos.version_compat import AirflowFailException
from tests.support.oos_task_helpers import task_context


def prop(name: str = "p", type: str | None = "string", **extra: Any) -> Property:
    return Property(name=name, type=type, **extra)


def fleet_template(**extra: Any) -> dict[str, Any]:
    """A template with typed parameters, as a person would keep it in OOS."""
    return {
        "name": "preflight-fleet-stop",
        "linear": True,
        "properties": [
            {"name": "instances", "type": "bccInstance", "required": True, "multiple": True},
            {"name": "reason", "type": "string", "required": True},
            {"name": "drain_seconds", "type": "number", "required": False, "defaultValue": 30},
            {"name": "force", "type": "boolean"},
        ],
        "operators": [
            {
                "name": "stop",
                "operator": "BCE::BCC::StopInstance",
                "retries": 0,
                "retryInterval": 60000,
                "timeout": 600000,
                "properties": {"instances": {"Ref": "instances"}, "note": {"Ref": "reason"}},
            }
        ],
        **extra,
    }


GOOD_PROPERTIES = {"instances": [{"instanceId": "i-a"}, {"instanceId": "i-b"}], "reason": "patching"}


# ---- values against declared types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "value"),
    [
        (prop(type="string"), "x"),
        (prop(type="String"), "x"),  # type names are read case-insensitively
        (prop(type="number"), 3),
        (prop(type="number"), 2.5),
        (prop(type="boolean"), False),
        (prop(type="list"), [1, "a"]),
        (prop(type="object"), {"a": 1}),
        (prop(type="bccInstance"), {"instanceId": "i-a"}),
        (prop(type="bccInstance"), [{"instanceId": "i-a"}, {"instanceId": "i-b", "name": "web"}]),
        (prop(type="hpasInstance"), {"instanceId": "hp-1"}),
        (prop(type="string", multiple=True), ["a", "b"]),
        (prop(type="something-new"), object()),  # an unknown type is not judged
    ],
)
def test_values_that_match_their_type(declared: Property, value: Any) -> None:
    assert check_value(declared, value) is None


@pytest.mark.parametrize(
    ("declared", "value", "words"),
    [
        (prop(type="string"), 5, ["must be a string", "int 5"]),
        (prop(type="number"), True, ["must be a number", "bool"]),
        (prop(type="number"), "5", ["must be a number", "render_template_as_native_obj"]),
        (prop(type="boolean"), "true", ["must be a boolean"]),
        (prop(type="list"), {"a": 1}, ["must be a list", "dict"]),
        (prop(type="object"), [1], ["must be a object"]),
        (prop(type="bccInstance"), "i-a", ['{"instanceId": "i-…"}']),
        (prop(type="bccInstance"), [{"instanceId": "i-a"}, {"id": "x"}], ['needs a non-empty "instanceId"']),
        (prop(type="bccInstance"), [], ["at least one bccInstance"]),
        (
            prop(type="bccInstance", multiple=False),
            [{"instanceId": "i-a"}, {"instanceId": "i-b"}],
            ["takes one bccInstance (multiple is false), got 2"],
        ),
        (prop(type="hpasInstance"), 7, ["each hpasInstance is an object"]),
        (prop(type="number", multiple=True), [1, "2"], ["item 1 must be a number"]),
    ],
)
def test_values_that_do_not_match_say_what_is_wrong(declared: Property, value: Any, words: list[str]) -> None:
    problem = check_value(declared, value)
    assert problem is not None
    for word in words:
        assert word in problem


# ---- a run's properties against the template ------------------------------------------------------


def fields(findings: list[Any]) -> list[str]:
    return [finding.field for finding in findings]


def test_good_properties_pass() -> None:
    errors, warnings = check_properties(Template.model_validate(fleet_template()), GOOD_PROPERTIES)
    assert errors == [] and warnings == []


def test_a_missing_required_property_is_named_with_the_fix() -> None:
    errors, _ = check_properties(Template.model_validate(fleet_template()), {"reason": "patching"})
    assert fields(errors) == ["properties.instances"]
    assert "required by template 'preflight-fleet-stop' and not given" in errors[0].problem
    assert "add 'instances' to the operator's properties" in errors[0].problem


@pytest.mark.parametrize("empty", [None, "", []])
def test_an_empty_value_counts_as_not_given(empty: Any) -> None:
    errors, _ = check_properties(
        Template.model_validate(fleet_template()), {**GOOD_PROPERTIES, "reason": empty}
    )
    assert fields(errors) == ["properties.reason"]


def test_a_default_or_value_satisfies_a_required_property() -> None:
    template = fleet_template()
    template["properties"][1]["defaultValue"] = "weekly window"
    template["properties"][0]["value"] = {"instanceId": "i-default"}
    assert check_properties(Template.model_validate(template), {}) == ([], [])


def test_wrong_types_are_errors_naming_the_property() -> None:
    errors, _ = check_properties(
        Template.model_validate(fleet_template()),
        {**GOOD_PROPERTIES, "drain_seconds": "30", "force": 1},
    )
    assert fields(errors) == ["properties.drain_seconds", "properties.force"]
    assert all("fix the value given in properties" in e.problem for e in errors)


def test_unknown_names_and_unpublished_types_are_warnings() -> None:
    template = fleet_template()
    template["properties"].append({"name": "hosts", "type": "array"})
    errors, warnings = check_properties(
        Template.model_validate(template), {**GOOD_PROPERTIES, "instnaces": [], "hosts": ["a"]}
    )
    assert errors == []
    assert fields(warnings) == ["properties.hosts", "properties.instnaces"]
    assert "not a published OOS property type" in warnings[0].problem
    assert "check the spelling" in warnings[1].problem


def test_an_unresolvable_ref_in_a_step_is_an_error() -> None:
    template = {
        "name": "refs",
        "operators": [
            {
                "name": "run",
                "operator": "BCE::Agent::ExecuteShell",
                "properties": {"content": {"Ref": "script"}},
            }
        ],
    }
    errors, _ = check_properties(Template.model_validate(template), {})
    assert fields(errors) == ["properties.script"]
    assert "step 'run' refers to it" in errors[0].problem
    assert check_properties(Template.model_validate(template), {"script": "echo hi"}) == ([], [])


def test_report_text_and_json() -> None:
    errors, warnings = check_properties(Template.model_validate(fleet_template()), {"reason": 1})
    report = PreflightReport("template 'x'", tuple(errors), tuple(warnings), ("properties",))
    assert not report.ok
    text = report.describe()
    assert "found 2 problem(s); nothing was started in OOS" in text
    assert "properties.instances: required" in text and "properties.reason: must be a string" in text
    assert report.to_dict()["errors"][0]["field"] == "properties.instances"
    assert "Preflight of template 'x' found" in str(OosPreflightError(report))
    assert PreflightReport("t", checked=("properties",)).describe() == "Preflight of t passed (properties)."


# ---- whole preflights against the emulator ---------------------------------------------------------


@pytest.fixture
def hook(hook_factory: Callable[..., OosHook], oos_emulator: EmulatorHandle) -> OosHook:
    return hook_factory(oos_emulator)


def test_preflight_by_name_catches_a_missing_required_property_and_creates_nothing(
    hook: Any, oos_emulator: EmulatorHandle
) -> None:
    hook.create_template(fleet_template())
    report = run_preflight(hook, template_name="preflight-fleet-stop", properties={"reason": "patching"})
    assert not report.ok
    assert [f.field for f in report.errors] == ["properties.instances"]
    assert report.checked == ("template exists", "properties")
    assert oos_emulator.create_calls() == 0
    assert oos_emulator.executions() == []


def test_preflight_by_name_and_by_id_pass_for_a_good_run(hook: Any, oos_emulator: EmulatorHandle) -> None:
    template_id = hook.create_template(fleet_template())
    assert run_preflight(hook, template_name="preflight-fleet-stop", properties=GOOD_PROPERTIES).ok
    by_id = run_preflight(hook, template_ref=template_id, properties=GOOD_PROPERTIES)
    assert by_id.ok and by_id.template == f"template {template_id}"
    assert oos_emulator.create_calls() == 0


def test_preflight_of_a_missing_template_says_how_to_fix_it(hook: Any) -> None:
    report = run_preflight(hook, template_name="no-such-template", properties={})
    assert [f.field for f in report.errors] == ["template_name"]
    assert "no such template in OOS" in report.errors[0].problem
    assert "OosUpsertTemplateOperator" in report.errors[0].problem
    by_id = run_preflight(hook, template_ref="tpl-missing", properties={})
    assert [f.field for f in by_id.errors] == ["template_ref"]


def test_preflight_of_an_inline_template_uses_local_rules_and_the_service_check(
    hook: Any, oos_emulator: EmulatorHandle
) -> None:
    report = run_preflight(hook, template=fleet_template(), properties=GOOD_PROPERTIES)
    assert report.ok, report.describe()
    assert report.checked == ("local rules", "service check", "properties")
    assert oos_emulator.admin("GET", "stats")["requests"].get("POST /api/logic/oos/v2/template/check") == 1

    broken = fleet_template()
    broken["operators"][0].pop("operator")
    local = run_preflight(hook, template=broken, properties=GOOD_PROPERTIES)
    assert [f.field for f in local.errors] == ["template"]
    assert "operator (the action type" in local.errors[0].problem
    # The local rules stopped it: the service was not asked again.
    assert oos_emulator.admin("GET", "stats")["requests"].get("POST /api/logic/oos/v2/template/check") == 1
    assert oos_emulator.create_calls() == 0


def test_preflight_reports_what_the_service_check_refuses(hook: Any) -> None:
    # Local rules pass; the service refuses a template type it does not know.
    report = run_preflight(hook, template=fleet_template(type="SHARED"), properties=GOOD_PROPERTIES)
    assert [f.field for f in report.errors] == ["template"]
    assert "OOS check-template says it is invalid" in report.errors[0].problem
    assert "template.type" in report.errors[0].problem


def test_preflight_needs_exactly_one_template_source(hook: Any) -> None:
    with pytest.raises(ValueError, match="exactly one of template"):
        run_preflight(hook, properties={})
    with pytest.raises(ValueError, match="exactly one of template"):
        run_preflight(hook, template_name="a", template_ref="tpl-1")


# ---- OosPreflightOperator ---------------------------------------------------------------------------


def preflight_operator(**kwargs: Any) -> OosPreflightOperator:
    return OosPreflightOperator(task_id="preflight", **kwargs)


def test_preflight_operator_fails_on_a_missing_required_property_and_creates_nothing(
    hook: OosHook, emulator: EmulatorHandle
) -> None:
    hook.create_template(fleet_template())
    operator = preflight_operator(template_name="preflight-fleet-stop", properties={"reason": "patching"})
    with pytest.raises(AirflowFailException) as failed:
        operator.execute(task_context())
    message = str(failed.value)
    assert "properties.instances: required by template 'preflight-fleet-stop' and not given" in message
    assert "add 'instances' to the operator's properties" in message
    assert "nothing was started in OOS" in message
    assert emulator.create_calls() == 0 and emulator.executions() == []


def test_preflight_operator_returns_the_report_of_a_good_run(hook: OosHook, emulator: EmulatorHandle) -> None:
    report = preflight_operator(template=json.dumps(fleet_template()), properties=GOOD_PROPERTIES).execute(
        task_context()
    )
    assert report == {
        "ok": True,
        "template": "inline template 'preflight-fleet-stop'",
        "errors": [],
        "warnings": [],
        "checked": ["local rules", "service check", "properties"],
    }
    assert emulator.create_calls() == 0


def test_preflight_operator_warnings_fail_only_when_asked(hook: OosHook, emulator: EmulatorHandle) -> None:
    properties = {**GOOD_PROPERTIES, "reasn": "typo"}
    report = preflight_operator(template=fleet_template(), properties=properties).execute(task_context())
    assert report["ok"] and [w["field"] for w in report["warnings"]] == ["properties.reasn"]
    strict = preflight_operator(template=fleet_template(), properties=properties, fail_on_warnings=True)
    with pytest.raises(AirflowFailException, match="fail_on_warnings is set"):
        strict.execute(task_context())


def test_preflight_operator_checks_its_settings_at_parse_time() -> None:
    with pytest.raises(ValueError, match="exactly one of template_ref"):
        preflight_operator()
    with pytest.raises(ValueError, match="exactly one of template_ref"):
        preflight_operator(template_name="a", template_ref="tpl-1")
    with pytest.raises(ValueError, match="oos_conn_id"):
        preflight_operator(template_name="a", oos_conn_id="")
