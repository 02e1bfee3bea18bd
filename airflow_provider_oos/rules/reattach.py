"""Reattach a retried task to the OOS execution of its earlier try, found by the Airflow tags.

Every execution the operator starts carries tags naming the dag, run, task and map index. Before
a retry creates anything, it lists recent executions of the template and picks the newest with the
same four tags: still running → wait on it; succeeded → return its summary; failed → start a new
one (the failure is why the task is retried). This works on every Airflow version; on 3.3 the
task_state_store is asked first and this is the fallback. `choose` is pure; `find_earlier_try`
makes one read-only list walk through a hook.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from typing_extensions import Unpack

from airflow_provider_oos.client.models import Execution, is_failed, is_successful
from airflow_provider_oos.exceptions import OosNotFoundError

if TYPE_CHECKING:
    from airflow_provider_oos.client.operations import ExecutionFilters

DAG_TAG, RUN_TAG, TASK_TAG, MAP_INDEX_TAG = "airflow-dag", "airflow-run", "airflow-task", "airflow-map-index"
IDENTITY_TAGS = (DAG_TAG, RUN_TAG, TASK_TAG, MAP_INDEX_TAG)
WAIT, RETURN, CREATE = "wait", "return", "create"
# How far back to look when the run's start is unknown, and the clock skew allowed against OOS.
DEFAULT_LOOKBACK_MS = 7 * 24 * 3600 * 1000
CLOCK_SKEW_MS = 15 * 60 * 1000


class ExecutionLister(Protocol):
    """The read call reattach needs (OosHook has it)."""

    def iter_executions(
        self, *, page_size: int = ..., **filters: Unpack[ExecutionFilters]
    ) -> Iterator[Execution]: ...


def task_instance_tags(ti: Any) -> dict[str, str]:
    """The tags that say which task instance started an execution (shown in the OOS console too)."""
    tags = {DAG_TAG: str(ti.dag_id), RUN_TAG: str(ti.run_id), TASK_TAG: str(ti.task_id)}
    map_index = getattr(ti, "map_index", -1)
    if map_index not in (-1, None):
        tags[MAP_INDEX_TAG] = str(map_index)
    return tags


def _same_task_instance(execution: Execution, wanted: Mapping[str, str]) -> bool:
    tags = execution.tag_map()
    return all(tags.get(key) == wanted.get(key) for key in IDENTITY_TAGS)


@dataclass(frozen=True)
class ReattachDecision:
    """`action`: ``"wait"`` on `execution`, ``"return"`` its summary, or ``"create"`` a new one."""

    action: str
    message: str
    execution: Execution | None = None


def choose(executions: Iterable[Execution], wanted: Mapping[str, str]) -> ReattachDecision:
    """The decision for the newest execution of the same task instance among `executions`."""
    mine = [e for e in executions if _same_task_instance(e, wanted)]
    if not mine:
        return ReattachDecision(CREATE, "No execution of an earlier try of this task instance was found.")
    newest = max(mine, key=lambda e: e.created_timestamp or 0)
    older = f" (newest of {len(mine)})" if len(mine) > 1 else ""
    what = f"OOS execution {newest.id}{older} of an earlier try is {newest.state}"
    if is_successful(newest.state):
        return ReattachDecision(RETURN, f"{what}: returning its result instead of starting another.", newest)
    if is_failed(newest.state):
        return ReattachDecision(CREATE, f"{what}: starting a new execution for this try.", newest)
    return ReattachDecision(WAIT, f"{what}: reattaching to it instead of starting another.", newest)


def find_earlier_try(
    hook: ExecutionLister,
    wanted: Mapping[str, str],
    *,
    template_name: str | None,
    since_ms: int | None,
    now_ms: int,
) -> ReattachDecision:
    """List recent executions (of `template_name`, if known) and `choose` among them.

    `since_ms` is when the DAG run started (epoch ms); executions before it cannot belong to it.
    An endpoint without the list call (404) means reattach cannot work there: say so, create.
    """
    start = (since_ms if since_ms is not None else now_ms - DEFAULT_LOOKBACK_MS) - CLOCK_SKEW_MS
    filters: ExecutionFilters = {"start_time": max(start, 0)}
    if template_name:
        filters["template_name"] = template_name
    try:
        return choose(hook.iter_executions(**filters), wanted)
    except OosNotFoundError as err:  # OosCallNotAvailableError: no list-executions on this endpoint
        return ReattachDecision(
            CREATE,
            f"Cannot look for an earlier try's execution ({err}); reattach needs the list-executions "
            "call, which this endpoint does not offer (see the connection's base_path).",
        )
