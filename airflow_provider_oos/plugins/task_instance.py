"""What a task instance produced, read from Airflow's metadata database: its OOS connection id and
its OOS execution id. Nothing here comes from the request but the task instance's key.

- The connection: the task's rendered ``oos_conn_id`` (what the task ran with); when Airflow has
  pruned the rendered fields of an old run, the DAG version of that run, if its value is no template.
- The execution: the task's XCom ``execution_id`` (``OosCreateExecutionOperator``); for
  ``OosExecutionSensor``, its rendered ``execution_id`` (it waits on one, and pushes none).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_provider_oos.plugins.render import TaskInstanceRef

EXECUTION_ID_KEY = "execution_id"
CONN_FIELD = "oos_conn_id"
# An execution id as OOS hands them out (`d-…`): one token, no spaces or markup, bounded.
_EXECUTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class TaskExecution(NamedTuple):
    """Where a task instance's execution is: found (``conn_id`` and ``execution_id``) or why not.

    :param conn_id: the task's ``oos_conn_id``; None when it is not an OOS task.
    :param execution_id: the execution it produced; None when it has none (yet).
    :param problem: a sentence for the page when something is missing.
    """

    conn_id: str | None
    execution_id: str | None
    problem: str | None = None


def find_task_instance(ref: TaskInstanceRef, session: Session) -> Any | None:
    from airflow.models.taskinstance import TaskInstance

    query = select(TaskInstance).where(
        TaskInstance.dag_id == ref.dag_id,
        TaskInstance.run_id == ref.run_id,
        TaskInstance.task_id == ref.task_id,
        TaskInstance.map_index == ref.map_index,
    )
    return session.scalar(query)


def _rendered_fields(ti: Any, session: Session) -> dict[str, Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    return RenderedTaskInstanceFields.get_templated_fields(ti, session=session) or {}


def _conn_id_of_dag_version(ti: Any, session: Session) -> str | None:
    """The task's ``oos_conn_id`` in the DAG version of its run, when it is a plain value."""
    from airflow.models.dagbag import DBDagBag

    dag = DBDagBag().get_dag_for_run(ti.dag_run, session=session)
    if dag is None or not dag.has_task(ti.task_id):
        return None
    value = getattr(dag.get_task(ti.task_id), CONN_FIELD, None)
    return value if isinstance(value, str) and value and "{{" not in value else None


def _xcom_execution_id(ti: Any, session: Session) -> Any:
    from airflow.models.xcom import XComModel

    query = select(XComModel).where(
        XComModel.dag_id == ti.dag_id,
        XComModel.run_id == ti.run_id,
        XComModel.task_id == ti.task_id,
        XComModel.map_index == ti.map_index,
        XComModel.key == EXECUTION_ID_KEY,
    )
    row = session.scalar(query)
    return None if row is None else XComModel.deserialize_value(row)


def task_execution(ti: Any, session: Session) -> TaskExecution:
    """The connection and execution of ``ti``, from what it produced (see the module docstring)."""
    rendered = _rendered_fields(ti, session)
    conn_id = rendered.get(CONN_FIELD) or _conn_id_of_dag_version(ti, session)
    if not isinstance(conn_id, str) or not conn_id:
        return TaskExecution(None, None, "This task is not an OOS task (it has no oos_conn_id).")
    execution_id = _xcom_execution_id(ti, session)
    if execution_id is None:
        execution_id = rendered.get(EXECUTION_ID_KEY)  # the sensor's own, rendered input
    if execution_id is None or execution_id == "":
        return TaskExecution(conn_id, None, "This task instance has not started an OOS execution (yet).")
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        return TaskExecution(conn_id, None, "The task's execution_id is not an OOS execution id.")
    return TaskExecution(conn_id, execution_id)
