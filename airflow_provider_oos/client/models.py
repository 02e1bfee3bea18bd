"""pydantic v2 models of the OOS API, with camelCase aliases: a tolerant reader.

Parse with `Model.model_validate(json_dict)`; send with `to_api()` (by alias, only the fields
that were set), so a round trip gives back the JSON the service sent.

Reading is strict only where the provider decides something: ids, states, step names, reasons,
outputs and children (the `_DECIDED` fields of each model); see `model_base` for the rest.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    field_validator,
)

from airflow_provider_oos.client.model_base import OosModel


class ExecutionState(str, Enum):
    """The published execution states (a state not listed here is read as is, and is not final)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ROLLBACK = "ROLLBACK"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    ROLLBACK_SUCCESS = "ROLLBACK_SUCCESS"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"


# One classification of execution states, used by the hook, operator, sensor and trigger.
# CANCELLED (two Ls) is accepted as a spelling of CANCELED. Anything else is not final.
SUCCESS_STATES = frozenset({"SUCCESS"})
FAILURE_STATES = frozenset({"FAILED", "CANCELED", "CANCELLED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"})
PAUSED_STATES = frozenset({"PAUSED"})
KNOWN_WAITING_STATES = frozenset({"PENDING", "RUNNING", "PAUSED", "ROLLBACK"})
FINAL_STATES = SUCCESS_STATES | FAILURE_STATES
TASK_FINAL_STATES = frozenset({"SUCCESS", "FAILED", "UPSTREAM_FAILED", "SKIPPED"})


def is_final(state: str | None) -> bool:
    return state in FINAL_STATES


def is_successful(state: str | None) -> bool:
    return state in SUCCESS_STATES


def is_failed(state: str | None) -> bool:
    return state in FAILURE_STATES


def is_paused(state: str | None) -> bool:
    return state in PAUSED_STATES


def is_known(state: str | None) -> bool:
    return state in FINAL_STATES or state in KNOWN_WAITING_STATES


class Tag(OosModel):
    """A template tag, `{"key", "value"}` (the execution tag spelling `tagKey`/`tagValue` is read too).

    :param key: the tag key.
    :param value: the tag value.
    """

    _DECIDED = frozenset({"key"})
    _STRICT = True
    key: str = Field(validation_alias=AliasChoices("key", "tagKey"))
    value: str | None = Field(default=None, validation_alias=AliasChoices("value", "tagValue"))

    def to_execution_tag(self) -> dict[str, Any]:
        """The published shape of an execution tag."""
        return {"tagKey": self.key, "tagValue": "" if self.value is None else self.value}

    def to_template_tag(self) -> dict[str, Any]:
        """The published shape of a template tag."""
        return {"key": self.key, "value": "" if self.value is None else self.value}


class ExecutionTag(Tag):
    """An execution tag, `{"tagKey", "tagValue"}` (the template tag spelling `key`/`value` is read
    too); written in the published execution shape."""

    key: str = Field(alias="tagKey", validation_alias=AliasChoices("tagKey", "key"))
    value: str | None = Field(
        default=None, alias="tagValue", validation_alias=AliasChoices("tagValue", "value")
    )


class Link(OosModel):
    """An edge of a non-linear template.

    :param src: the step it starts from.
    :param dst: the step it leads to.
    """

    _STRICT = True
    src: str
    dst: str


class Control(OosModel):
    """`parallelismControl` / `allowedFailureControl`: a ratio or a count."""

    _STRICT = True
    ratio: float | None = None
    count: int | None = None


class TemplateOperator(OosModel):
    """One step of an OOS template (not an Airflow operator). Other published fields are kept as sent.

    :param name: the step name, unique in its template.
    :param operator: the action type, e.g. `BCE::BCC::StopInstance`.
    :param retries: retries of the step; `retry_interval` and `timeout` are milliseconds.
    :param properties: the action's input; `{"Ref": "name"}` refers to an execution property.
    """

    _DECIDED = frozenset({"name"})
    _STRICT = True
    name: str
    operator: str | None = None
    description: str | None = None
    retries: int | None = None
    retry_interval: int | None = None
    timeout: int | None = None
    parallelism_control: Control | None = None
    allowed_failure_control: Control | None = None
    manually: bool | None = None
    schedule_delay_milli: int | None = None
    pause_on_failure: bool | None = None
    properties: dict[str, Any] | None = None
    init_context: Any = None
    loops: Any = None


class Property(OosModel):
    """A template parameter.

    :param name: the parameter name.
    :param type: string, number, boolean, list, object, bccInstance or hpasInstance.
    :param required: whether an execution must give it.
    """

    _DECIDED = frozenset({"name"})
    _STRICT = True
    name: str
    type: str | None = None
    required: bool | None = None
    multiple: bool | None = None
    label: str | None = None
    description: str | None = None
    options: Any = None
    value: Any = None
    default_value: Any = None
    unit: str | None = None


class Template(OosModel):
    """An OOS template: stored (`id`, or `ref` when running it) or inline (`name` and `operators`).

    :param name: unique per user.
    :param ref: the id of an existing template, to run it.
    :param linear: steps run in order; otherwise `links` give the graph.
    :param operators: the steps.
    :param properties: the parameters an execution gives.
    """

    _STRICT = True
    id: str | None = None
    name: str | None = None
    ref: str | None = None
    type: str | None = None
    description: str | None = None
    tags: list[Tag] | None = None
    linear: bool | None = None
    links: list[Link] | None = None
    operators: list[TemplateOperator] | None = None
    properties: list[Property] | None = None


class TaskLog(OosModel):
    """One log line of a task (only with `withLog`). The timestamp's format is not published.

    :param timestamp: a string in every SDK; a number is read too.
    :param msg: the message; `text` gives it as text whatever JSON it came as.
    """

    timestamp: str | int | float | None = None
    level: str | None = None
    msg: str | None = None
    tags: Any = None

    @property
    def text(self) -> str:
        """The message as text, whatever JSON it came as."""
        raw = (self.model_extra or {}).get("msg", self.msg)  # an unreadable msg is kept raw
        return raw if isinstance(raw, str) else "" if raw is None else json.dumps(raw)


class Task(OosModel):
    """One step run of an execution; `children` are its loop iterations.

    :param id: the task id (`t-…`).
    :param state: PENDING, RUNNING, SUCCESS, FAILED, UP_FOR_RETRY, UPSTREAM_FAILED, SKIPPED, …
    :param operator: the step; its `name` is the step name.
    :param reason: why it failed; `error_code` the service's code for it.
    :param loop_index: which loop iteration a child is.
    :param output_context: the step's outputs (any JSON).

    `log` is None when the execution was read without `withLog`.
    """

    _DECIDED = frozenset({"id", "state", "operator", "reason", "output_context", "children"})
    id: str | None = None
    loop_index: int | None = None
    revision: int | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    finished_timestamp: int | None = None
    state: str | None = None
    operator: TemplateOperator | None = None
    reason: str | None = None
    error_code: str | int | None = None
    init_context: Any = None
    context: Any = None
    output_context: Any = None
    tries: int | None = None
    children: list[Task] | None = None
    log: list[TaskLog] | None = None

    @property
    def name(self) -> str:
        return self.operator.name if self.operator else (self.id or "?")

    @property
    def outputs(self) -> dict[str, Any]:
        """`outputContext` as a dict: {} when absent; other JSON under the key "value"."""
        raw = self.output_context
        if raw is None:
            return {}
        return dict(raw) if isinstance(raw, dict) else {"value": raw}

    def walk(self) -> list[Task]:
        """This task and all its descendants, depth first."""
        found = [self]
        for child in self.children or ():
            found.extend(child.walk())
        return found


class Execution(OosModel):
    """An execution (`d-…`) of a template.

    :param id: the execution id.
    :param state: see `ExecutionState`; unknown states are not final.
    :param tasks: the step runs.
    :param tags: execution tags (`tag_map()` gives them as a dict).
    :param reason: why it failed; `error_code` the service's code for it.
    """

    _DECIDED = frozenset({"id", "state", "tasks", "reason"})
    id: str
    description: str | None = None
    template: Template | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    finished_timestamp: int | None = None
    state: str | None = None
    properties: dict[str, Any] | None = None
    tags: list[ExecutionTag] | None = None
    tasks: list[Task] = Field(default_factory=list)
    trigger: str | None = None
    reason: str | None = None
    error_code: str | int | None = None
    parallelism: int | None = None
    manually: bool | None = None

    @field_validator("tasks", mode="before")
    @classmethod
    def _no_tasks_yet(cls, value: Any) -> Any:
        return [] if value is None else value  # a new execution may answer `"tasks": null`

    @property
    def is_final(self) -> bool:
        return is_final(self.state)

    @property
    def is_successful(self) -> bool:
        return is_successful(self.state)

    @property
    def is_failed(self) -> bool:
        return is_failed(self.state)

    @property
    def is_paused(self) -> bool:
        return is_paused(self.state)

    def tag_map(self) -> dict[str, str]:
        """The execution's tags as key -> value (either published shape)."""
        return {tag.key: tag.value or "" for tag in self.tags or ()}

    def all_tasks(self) -> list[Task]:
        return [task for top in self.tasks for task in top.walk()]

    def failed_task(self) -> Task | None:
        """The first task that failed (its own failure, before any upstream-failed one)."""
        tasks = self.all_tasks()
        for wanted in ("FAILED", "UPSTREAM_FAILED"):
            for task in tasks:
                if task.state == wanted:
                    return task
        return None

    def running_task(self) -> Task | None:
        return next((t for t in self.tasks if t.state == "RUNNING"), None)

    def outputs_by_task(self) -> dict[str, dict[str, Any]]:
        """Each top-level task's `outputContext`, keyed by its step name."""
        return {task.name: task.outputs for task in self.tasks}

    def task_states(self) -> dict[str, str | None]:
        return {task.name: task.state for task in self.tasks}


class Page(OosModel):
    """The paging fields every list answer carries."""

    order_by: str | None = None
    order: str | None = None
    page_no: int | None = None
    page_size: int | None = None
    total_count: int | None = None


class TemplatePage(Page):
    """One page of list-templates."""

    _DECIDED = frozenset({"templates"})
    templates: list[Template] = Field(default_factory=list)


class ExecutionPage(Page):
    """One page of list-executions.

    :param executions: the executions of this page.
    :param total_count: how many match the filters, over all pages.
    """

    _DECIDED = frozenset({"executions"})
    executions: list[Execution] = Field(default_factory=list)


class TaskPage(Page):
    """One page of task children (loop iterations), named as the generated SDK names them: the
    items `children`, the count `total` (`tasks` and `totalCount` are read too).

    :param tasks: the children of this page.
    :param total_count: how many match, over all pages.
    """

    _DECIDED = frozenset({"tasks"})
    tasks: list[Task] = Field(
        default_factory=list, alias="children", validation_alias=AliasChoices("children", "tasks")
    )
    total_count: int | None = Field(
        default=None, alias="total", validation_alias=AliasChoices("total", "totalCount")
    )


class ActionType(OosModel):
    """An action the service offers (`BCE::BCC::StopInstance`, …); its fields are not published."""

    name: str | None = None
    operator: str | None = None
    description: str | None = None


class OperatorPage(Page):
    """One page of the action types (`operators`); the v2 list adds `categories` (kept as sent)."""

    _DECIDED = frozenset({"operators"})
    operators: list[ActionType] = Field(default_factory=list)


class TemplateCheck(OosModel):
    """Check-template result; the service may say `isValid` or `valid`."""

    _DECIDED = frozenset({"is_valid", "valid", "reason"})
    is_valid: bool | None = None
    valid: bool | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.is_valid if self.is_valid is not None else self.valid)
