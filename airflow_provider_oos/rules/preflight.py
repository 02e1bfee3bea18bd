"""Preflight: check a planned OOS run hours before its window, without changing anything.

What is checked: the template exists (by name or id) or, given inline, passes the local rules
(`template_rules`) and the service's check call; every required template property is given; each
given value matches its declared type (string, number, boolean, list, object, bccInstance,
hpasInstance); every `{"Ref": name}` in a step can be resolved. Errors name the property (or
field) and the fix. `check_properties` is pure; `run_preflight` makes only read calls through a
hook (get template, list templates, check template) and never creates an execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_oos.client.models import Property, Template, TemplateCheck, TemplatePage
from airflow_provider_oos.client.template_rules import prepare_inline_template
from airflow_provider_oos.exceptions import OosNotFoundError

PROPERTY_TYPES = ("string", "number", "boolean", "list", "object", "bccInstance", "hpasInstance")
_TYPE_BY_LOWER = {name.lower(): name for name in PROPERTY_TYPES}
_INSTANCE_TYPES = ("bccInstance", "hpasInstance")
_MAX_TEMPLATE_PAGES = 50  # a template by id is found by listing; bound the walk


class PreflightHook(Protocol):
    """The read calls preflight needs (OosHook has them)."""

    def get_template(self, name: str, template_type: str = ...) -> Template: ...

    def check_template(self, template: Template | Mapping[str, Any]) -> TemplateCheck: ...

    def list_templates(self, page_no: int = ..., page_size: int = ...) -> TemplatePage: ...


@dataclass(frozen=True)
class PreflightFinding:
    """One thing preflight found: `field` is e.g. ``properties.instances``; `problem` says the fix."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True)
class PreflightReport:
    """What preflight checked and found. `ok` is True when nothing blocks the run.

    :param template: which template was checked (its name and/or id, as given).
    :param errors: findings that would make the run fail or do the wrong thing.
    :param warnings: findings worth a look that do not block the run.
    :param checked: the checks that ran, in order (for the log).
    """

    template: str
    errors: tuple[PreflightFinding, ...] = ()
    warnings: tuple[PreflightFinding, ...] = ()
    checked: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        if self.ok:
            head = f"Preflight of {self.template} passed ({', '.join(self.checked)})."
        else:
            head = (
                f"Preflight of {self.template} found {len(self.errors)} problem(s); nothing was "
                "started in OOS. Fix them before the window:"
            )
        lines = [head, *(f"  - {finding}" for finding in self.errors)]
        lines += [f"  - warning: {finding}" for finding in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON for XCom: ok, template, errors, warnings, checked."""
        return {
            "ok": self.ok,
            "template": self.template,
            "errors": [{"field": f.field, "problem": f.problem} for f in self.errors],
            "warnings": [{"field": f.field, "problem": f.problem} for f in self.warnings],
            "checked": list(self.checked),
        }


def _is_absent(value: Any) -> bool:
    # The service treats these as "not given" (the emulator does the same).
    return value is None or value == "" or value == []


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _instance_problem(kind: str, item: Any) -> str | None:
    if not isinstance(item, dict) or not item:
        return f'each {kind} is an object such as {{"instanceId": "i-…"}}, got {_show(item)}'
    if kind == "bccInstance" and not (isinstance(item.get("instanceId"), str) and item["instanceId"]):
        return (
            f'a bccInstance needs a non-empty "instanceId", e.g. {{"instanceId": "i-…"}}; got {_show(item)}'
        )
    return None


def _scalar_problem(kind: str, value: Any) -> str | None:
    """What is wrong with one value of a declared type (None when it matches)."""
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "list":
        ok = isinstance(value, list)
    elif kind == "object":
        ok = isinstance(value, dict)
    else:
        return _instance_problem(kind, value)
    if ok:
        return None
    hint = ""
    if isinstance(value, str) and kind in ("number", "boolean", "list", "object"):
        # Jinja renders to text unless the DAG renders native objects.
        hint = " (a rendered Jinja template gives text: pass the value itself, or set the DAG's "
        hint += "render_template_as_native_obj=True)"
    return f"must be a {kind}, got {type(value).__name__} {_show(value)}{hint}"


def check_value(prop: Property, value: Any) -> str | None:
    """The problem with `value` for template property `prop`, or None. Unknown types are not judged."""
    kind = _TYPE_BY_LOWER.get((prop.type or "").lower())
    if kind is None:
        return None
    if kind in _INSTANCE_TYPES:
        items = value if isinstance(value, list) else [value]
        if prop.multiple is False and isinstance(value, list) and len(value) > 1:
            return f"takes one {kind} (multiple is false), got {len(value)}"
        if not items:
            return f"needs at least one {kind}"
        return next((p for p in (_instance_problem(kind, item) for item in items) if p), None)
    if prop.multiple and isinstance(value, list) and kind != "list":
        return next(
            (f"item {i} {p}" for i, p in ((i, _scalar_problem(kind, v)) for i, v in enumerate(value)) if p),
            None,
        )
    return _scalar_problem(kind, value)


def _refs(value: Any) -> Iterator[str]:
    """Every `{"Ref": name}` inside a step's input."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            yield value["Ref"]
            return
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def check_properties(
    template: Template, properties: Mapping[str, Any]
) -> tuple[list[PreflightFinding], list[PreflightFinding]]:
    """Errors and warnings for the properties of one run of `template` (pure, no API call)."""
    errors: list[PreflightFinding] = []
    warnings: list[PreflightFinding] = []
    declared = {prop.name: prop for prop in template.properties or ()}
    for name, prop in declared.items():
        where = f"properties.{name}"
        given = properties.get(name)
        fallback = prop.value if not _is_absent(prop.value) else prop.default_value
        if _is_absent(given):
            if prop.required and _is_absent(fallback):
                example = f" ({prop.description})" if prop.description else ""
                errors.append(
                    PreflightFinding(
                        where,
                        f"required by template {template.name or template.id!r} and not given{example}; "
                        f"add {name!r} to the operator's properties.",
                    )
                )
            continue
        if prop.type and (prop.type or "").lower() not in _TYPE_BY_LOWER:
            warnings.append(
                PreflightFinding(
                    where,
                    f"declared type {prop.type!r} is not a published OOS property type "
                    f"({', '.join(PROPERTY_TYPES)}); its value was not checked.",
                )
            )
        elif problem := check_value(prop, given):
            errors.append(PreflightFinding(where, f"{problem}; fix the value given in properties."))
    if declared:
        for name in properties:
            if name not in declared:
                warnings.append(
                    PreflightFinding(
                        f"properties.{name}",
                        f"not a property of the template (it has {sorted(declared)}); "
                        "check the spelling, or drop it.",
                    )
                )
    for step in template.operators or ():
        for ref in dict.fromkeys(_refs(step.properties)):
            target = declared.get(ref)
            known = not _is_absent(properties.get(ref)) or (
                target is not None and not (_is_absent(target.value) and _is_absent(target.default_value))
            )
            if not known and not (target is not None and target.required):  # a required one is reported above
                errors.append(
                    PreflightFinding(
                        f"properties.{ref}",
                        f"step {step.name!r} refers to it ({{'Ref': {ref!r}}}) but no value is given and "
                        "the template has no default; add it to the operator's properties.",
                    )
                )
    return errors, warnings


def _template_by_id(hook: PreflightHook, template_id: str) -> Template:
    for page_no in range(1, _MAX_TEMPLATE_PAGES + 1):
        page = hook.list_templates(page_no=page_no, page_size=100)
        for template in page.templates:
            if template.id == template_id:
                return template
        if len(page.templates) < 100:
            break
    raise OosNotFoundError(f"template {template_id} not found")


def run_preflight(
    hook: PreflightHook,
    *,
    template: Template | Mapping[str, Any] | str | None = None,
    template_name: str | None = None,
    template_ref: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> PreflightReport:
    """Check one planned run with read-only calls; give exactly one template source.

    API errors other than "not found" (network, auth, throttling) are raised, so the caller's
    retries apply; everything about the run itself ends up in the report.
    """
    sources = [s for s in (template, template_name, template_ref) if s is not None]
    if len(sources) != 1:
        raise ValueError("Pass exactly one of template (inline), template_name or template_ref.")
    properties = dict(properties or {})
    checked: list[str] = []
    errors: list[PreflightFinding] = []
    if template is not None:
        label = "inline template"
        try:
            found = prepare_inline_template(template)
        except (TypeError, ValueError) as err:
            return PreflightReport(label, (PreflightFinding("template", str(err)),), (), ("local rules",))
        label = f"inline template {found.name!r}"
        checked.append("local rules")
        answer = hook.check_template(found)
        checked.append("service check")
        if not answer.ok:
            reason = answer.reason or "no reason given"
            errors.append(PreflightFinding("template", f"OOS check-template says it is invalid: {reason}"))
    else:
        label = f"template {template_name!r}" if template_name is not None else f"template {template_ref}"
        checked.append("template exists")
        try:
            if template_name is not None:
                found = hook.get_template(template_name)
            else:
                found = _template_by_id(hook, str(template_ref))
        except OosNotFoundError:
            where, fix = (
                ("template_name", "fix the name, or create it first (OosUpsertTemplateOperator)")
                if template_name is not None
                else ("template_ref", "fix the id, or run the template by template_name")
            )
            return PreflightReport(
                label, (PreflightFinding(where, f"no such template in OOS; {fix}."),), (), tuple(checked)
            )
    checked.append("properties")
    property_errors, warnings = check_properties(found, properties)
    return PreflightReport(label, tuple(errors + property_errors), tuple(warnings), tuple(checked))
