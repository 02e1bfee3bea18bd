"""Template rules as the service enforces them, and the normalized snapshot the service stores.

`normalize_template` raises `TemplateInvalid` with a reason naming the field; check-template
answers that reason, create/update answer it as a 400.
"""

from __future__ import annotations

import copy
from typing import Any

from oos_emulator.texts import Text, t

# Step defaults the service fills in (the keys of the vendor page's execution snapshot; the values
# of the OpenAPI metadata: retryInterval 300000 = 5 min, timeout 21600000 = 6 h).
OPERATOR_DEFAULTS: dict[str, Any] = {
    "retries": 0,
    "retryInterval": 300000,
    "timeout": 21600000,
    "manually": False,
    "scheduleDelayMilli": 0,
    "pauseOnFailure": False,
}
_INT_FIELDS = ("retries", "retryInterval", "timeout", "scheduleDelayMilli")
_BOOL_FIELDS = ("manually", "pauseOnFailure")
TEMPLATE_TYPES = ("INDIVIDUAL", "GLOBAL")


class TemplateInvalid(ValueError):
    """The template breaks a service rule; `text` is the reason, in both locales."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def normalize_template(raw: Any) -> dict[str, Any]:
    """Validate a template body and return the snapshot the service keeps (defaults filled in).

    Unknown fields are kept, as the service keeps them.
    """
    if not isinstance(raw, dict):
        raise TemplateInvalid(t("template must be a JSON object", "template 必须是 JSON 对象"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TemplateInvalid(
            t(
                "template.name is required and must be a non-empty string",
                "template.name 必填，且必须是非空字符串",
            )
        )
    operators = raw.get("operators")
    if not isinstance(operators, list) or not operators:
        raise TemplateInvalid(
            t(
                "template.operators must be a non-empty list of steps",
                "template.operators 必须是非空的步骤列表",
            )
        )
    steps = [_normalize_operator(index, step) for index, step in enumerate(operators)]
    names = [step["name"] for step in steps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TemplateInvalid(
            t(
                "template.operators: step names must be unique, repeated: {d}",
                "template.operators：步骤名必须唯一，重复的有：{d}",
                d=duplicates,
            )
        )
    linear = raw.get("linear", True)
    if not isinstance(linear, bool):
        raise TemplateInvalid(
            t("template.linear must be true or false", "template.linear 必须是 true 或 false")
        )
    links = raw.get("links") or []
    if not linear:
        _check_links(links, names)
    template_type = raw.get("type", "INDIVIDUAL")
    if template_type not in TEMPLATE_TYPES:
        raise TemplateInvalid(
            t(
                "template.type must be one of {types}, got {v!r}",
                "template.type 必须是 {types} 之一，收到 {v!r}",
                types=list(TEMPLATE_TYPES),
                v=template_type,
            )
        )
    properties = raw.get("properties") or []
    if not isinstance(properties, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) for p in properties
    ):
        raise TemplateInvalid(
            t(
                "template.properties must be a list of objects with a name",
                "template.properties 必须是带 name 的对象列表",
            )
        )
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and "key" in t for t in tags):
        raise TemplateInvalid(
            t(
                'template.tags must be a list of {{"key": …, "value": …}} objects',
                'template.tags 必须是 {{"key": …, "value": …}} 对象的列表',
            )
        )
    snapshot: dict[str, Any] = {"id": raw["id"]} if raw.get("id") else {}
    snapshot.update(
        name=name,
        type=template_type,
        tags=tags,
        linear=linear,
        links=[] if linear else links,
        operators=steps,
        properties=properties,
    )
    # Unknown fields are kept, as the service keeps them; `ref` only means "use that template".
    snapshot.update({k: copy.deepcopy(v) for k, v in raw.items() if k not in snapshot and k != "ref"})
    return snapshot


def _normalize_operator(index: int, raw: Any) -> dict[str, Any]:
    at = f"template.operators[{index}]"
    if not isinstance(raw, dict):
        raise TemplateInvalid(t("{at} must be a JSON object", "{at} 必须是 JSON 对象", at=at))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TemplateInvalid(
            t(
                "{at}.name is required and must be a non-empty string",
                "{at}.name 必填，且必须是非空字符串",
                at=at,
            )
        )
    where = t("step {name!r}", "步骤 {name!r}", name=name)
    action = raw.get("operator")
    if not isinstance(action, str) or not action.strip():
        raise TemplateInvalid(
            t(
                "{w}: operator (the action type, e.g. BCE::BCC::StopInstance) is required",
                "{w}：operator（动作类型，例如 BCE::BCC::StopInstance）必填",
                w=where,
            )
        )
    # Key order as in the vendor page; unknown fields are kept after the known ones.
    step: dict[str, Any] = {"name": name, "operator": action}
    if raw.get("description") is not None:
        step["description"] = raw["description"]
    for field, default in OPERATOR_DEFAULTS.items():
        step[field] = default if raw.get(field) is None else raw[field]
    step["properties"] = copy.deepcopy(raw.get("properties"))
    step["initContext"] = copy.deepcopy(raw.get("initContext"))
    step.update({k: copy.deepcopy(v) for k, v in raw.items() if k not in step})
    for field in _INT_FIELDS:
        value = step[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TemplateInvalid(_not_count(where, field, value))
    for field in _BOOL_FIELDS:
        if not isinstance(step[field], bool):
            raise TemplateInvalid(
                t(
                    "{w}: {f} must be true or false, got {v!r}",
                    "{w}：{f} 必须是 true 或 false，收到 {v!r}",
                    w=where,
                    f=field,
                    v=step[field],
                )
            )
    for field in ("properties", "initContext"):
        value = step.get(field)
        if value is None:
            step[field] = {}
        elif not isinstance(value, dict):
            raise TemplateInvalid(
                t("{w}: {f} must be a JSON object", "{w}：{f} 必须是 JSON 对象", w=where, f=field)
            )
    _check_loop_fields(where, step)
    return step


def _not_count(where: Text, field: str, value: Any) -> Text:
    return t(
        "{w}: {f} must be a non-negative integer, got {v!r}",
        "{w}：{f} 必须是非负整数，收到 {v!r}",
        w=where,
        f=field,
        v=value,
    )


def _check_loop_fields(where: Text, step: dict[str, Any]) -> None:
    """`loops` and the controls that only matter with it (names and ranges of the OpenAPI metadata)."""
    loops = step.get("loops")
    if loops is not None and (
        not isinstance(loops, list) or not all(isinstance(entry, dict) for entry in loops)
    ):
        raise TemplateInvalid(
            t(
                "{w}: loops must be a list of objects, one per iteration, each the iteration's input "
                '(e.g. {{"instanceId": "i-a"}}) or {{"initContext": {{...}}}}',
                "{w}：loops 必须是对象列表，每次迭代一个，即该次迭代的输入"
                '（例如 {{"instanceId": "i-a"}}）或 {{"initContext": {{...}}}}',
                w=where,
            )
        )
    for prefix in ("parallelism", "allowedFailure"):
        control = step.get(f"{prefix}Control")
        if control is not None and not isinstance(control, dict):
            raise TemplateInvalid(
                t(
                    "{w}: {p}Control must be an object {{ratio, count}}",
                    "{w}：{p}Control 必须是对象 {{ratio, count}}",
                    w=where,
                    p=prefix,
                )
            )
        pairs = [(f"{prefix}{k}", step.get(f"{prefix}{k}")) for k in ("Ratio", "Count")]
        pairs += [(f"{prefix}Control.{k}", (control or {}).get(k)) for k in ("ratio", "count")]
        for name, value in pairs:
            if value is None:
                continue
            if name.lower().endswith("ratio"):
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise TemplateInvalid(
                        t(
                            "{w}: {f} must be a number from 0 to 1, got {v!r}",
                            "{w}：{f} 必须是 0 到 1 之间的数，收到 {v!r}",
                            w=where,
                            f=name,
                            v=value,
                        )
                    )
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TemplateInvalid(_not_count(where, name, value))


def _check_links(links: Any, names: list[str]) -> None:
    if not isinstance(links, list) or not links:
        raise TemplateInvalid(
            t(
                "template.links is required when template.linear is false",
                "template.linear 为 false 时 template.links 必填",
            )
        )
    known = set(names)
    edges: dict[str, list[str]] = {n: [] for n in names}
    for index, link in enumerate(links):
        if (
            not isinstance(link, dict)
            or not isinstance(link.get("src"), str)
            or not isinstance(link.get("dst"), str)
        ):
            raise TemplateInvalid(
                t(
                    'template.links[{i}] must be {{"src": step, "dst": step}}',
                    'template.links[{i}] 必须是 {{"src": 步骤, "dst": 步骤}}',
                    i=index,
                )
            )
        for end in ("src", "dst"):
            if link[end] not in known:
                raise TemplateInvalid(
                    t(
                        "template.links[{i}].{end} names unknown step {s!r}",
                        "template.links[{i}].{end} 指向不存在的步骤 {s!r}",
                        i=index,
                        end=end,
                        s=link[end],
                    )
                )
        edges[link["src"]].append(link["dst"])
    cycle = find_cycle(edges)
    if cycle:
        path = " -> ".join(cycle)
        raise TemplateInvalid(t("template.links form a cycle: {p}", "template.links 构成了环：{p}", p=path))


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the step graph (`{step: [next steps]}`) as a path ending where it starts, or None.

    The emulator's own check (it answers as the service would, not as the client decides): a
    depth-first walk that keeps the path it is on.
    """
    finished: set[str] = set()
    for start in edges:
        if start in finished:
            continue
        path = [start]
        on_path = {start}
        pending = [iter(edges.get(start, ()))]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:  # every successor done: leave this step
                done = path.pop()
                on_path.discard(done)
                finished.add(done)
                pending.pop()
                continue
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in finished:
                path.append(nxt)
                on_path.add(nxt)
                pending.append(iter(edges.get(nxt, ())))
    return None


def upstream_map(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each step name → the steps that must succeed before it starts."""
    names = [step["name"] for step in template["operators"]]
    if template.get("linear", True):
        return {name: names[i - 1 : i] for i, name in enumerate(names)}
    upstream: dict[str, list[str]] = {name: [] for name in names}
    for link in template.get("links") or []:
        upstream[link["dst"]].append(link["src"])
    return upstream


def resolve_refs(value: Any, properties: dict[str, Any], resolved: dict[str, Any], missing: list[str]) -> Any:
    """Replace every `{"Ref": name}` by the execution property.

    Resolved names are recorded in `resolved`; unknown names stay as they are (as the service
    leaves them, see the vendor page) and are listed in `missing`.
    """
    if isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            name = value["Ref"]
            if name in properties:
                resolved[name] = copy.deepcopy(properties[name])
                return copy.deepcopy(properties[name])
            missing.append(name)
            return value
        return {key: resolve_refs(item, properties, resolved, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, properties, resolved, missing) for item in value]
    return value


def execution_properties(template: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Template parameter defaults overlaid with the properties given at create time.

    Raises TemplateInvalid when a required parameter has neither.
    """
    merged: dict[str, Any] = {}
    for prop in template.get("properties") or []:
        for source in ("value", "defaultValue"):
            if prop.get(source) is not None:
                merged[prop["name"]] = prop[source]
                break
    merged.update(given)
    absent = [
        prop["name"]
        for prop in template.get("properties") or []
        if prop.get("required") and merged.get(prop["name"]) in (None, "", [])
    ]
    if absent:
        raise TemplateInvalid(
            t(
                "properties: required template parameter(s) not given: {a}",
                "properties：缺少必填的模板参数：{a}",
                a=absent,
            )
        )
    return merged
