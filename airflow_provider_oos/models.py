"""pydantic v2 models of the OOS API, with camelCase aliases; unknown fields are kept.

Parse with `Model.model_validate(json_dict)`; send with `to_api()` (by alias, only the fields
that were set), so a round trip gives back the JSON the service sent.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class OosModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")

    def to_api(self) -> dict[str, Any]:
        """JSON-ready dict by alias, without fields that were never set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ExecutionState(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ROLLBACK = "ROLLBACK"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    ROLLBACK_SUCCESS = "ROLLBACK_SUCCESS"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"


class TaskState(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    UP_FOR_RETRY = "UP_FOR_RETRY"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    SKIPPED = "SKIPPED"


# One classification of execution states, used by the hook, operator, sensor and trigger.
# CANCELLED (two Ls) is accepted as a spelling of CANCELED. Anything else is not final.
SUCCESS_STATES = frozenset({"SUCCESS"})
FAILURE_STATES = frozenset({"FAILED", "CANCELED", "CANCELLED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"})
PAUSED_STATES = frozenset({"PAUSED"})
KNOWN_WAITING_STATES = frozenset({"PENDING", "RUNNING", "PAUSED", "ROLLBACK"})
FINAL_STATES = SUCCESS_STATES | FAILURE_STATES
TASK_FAILURE_STATES = frozenset({"FAILED", "UPSTREAM_FAILED"})
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
    key: str
    value: str | None = None


class Link(OosModel):
    src: str
    dst: str


class Control(OosModel):
    """`parallelismControl` / `allowedFailureControl`: a ratio or a count."""

    ratio: float | None = None
    count: int | None = None


class TemplateOperator(OosModel):
    """One step of an OOS template (not an Airflow operator)."""

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
    init_context: dict[str, Any] | None = None
    loops: Any = None


class Property(OosModel):
    """A template parameter."""

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
    timestamp: int | None = None
    level: str | None = None
    msg: str | None = None
    tags: Any = None


class Task(OosModel):
    id: str | None = None
    loop_index: int | None = None
    revision: int | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    finished_timestamp: int | None = None
    state: str | None = None
    operator: TemplateOperator | None = None
    reason: str | None = None
    init_context: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    output_context: dict[str, Any] | None = None
    tries: int | None = None
    children: list[Task] | None = None
    log: list[TaskLog] | None = None

    @property
    def name(self) -> str:
        return self.operator.name if self.operator else (self.id or "?")

    def walk(self) -> list[Task]:
        """This task and all its descendants, depth first."""
        found = [self]
        for child in self.children or ():
            found.extend(child.walk())
        return found


class Execution(OosModel):
    id: str
    description: str | None = None
    template: Template | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    finished_timestamp: int | None = None
    state: str | None = None
    properties: dict[str, Any] | None = None
    tags: list[Tag] | None = None
    tasks: list[Task] = Field(default_factory=list)
    trigger: str | None = None

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
        return {task.name: dict(task.output_context or {}) for task in self.tasks}

    def task_states(self) -> dict[str, str | None]:
        return {task.name: task.state for task in self.tasks}


class Envelope(OosModel):
    """Every OOS answer: `{"success", "msg", "code", "result"}`."""

    success: bool = False
    msg: str | None = None
    code: int | str | None = None
    result: Any = None


class Page(OosModel):
    order_by: str | None = None
    order: str | None = None
    page_no: int | None = None
    page_size: int | None = None
    total_count: int | None = None


class TemplatePage(Page):
    templates: list[Template] = Field(default_factory=list)


class ActionType(OosModel):
    """An action the service offers (`BCE::BCC::StopInstance`, …); its fields are not published."""

    name: str | None = None
    operator: str | None = None
    description: str | None = None


class OperatorPage(Page):
    operators: list[ActionType] = Field(default_factory=list)


class TemplateCheck(OosModel):
    """Check-template result; the service may say `isValid` or `valid`."""

    is_valid: bool | None = None
    valid: bool | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.is_valid if self.is_valid is not None else self.valid)
