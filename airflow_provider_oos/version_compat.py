"""Every Airflow 3.x difference the provider bridges, in one place.

Import from here, never with a local ``try``/``except ImportError``: when the floor moves, this is
the one file to shrink. Each shim names the versions it is for.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

try:  # Airflow >= 3.2 moved these into the Task SDK
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef]
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

DURABLE_IGNORED_MESSAGE = (
    "durable= has no effect on Airflow < 3.3 (no task_state_store): a retry after a worker crash "
    "finds the execution of its earlier try by the execution's Airflow tags instead (reattach=True)."
)
_durable_warning_given = False  # one warning per process, however many tasks pass durable=

try:  # Airflow >= 3.3: the execution id survives a worker crash in the task_state_store
    from airflow.sdk import ResumableJobMixin

    HAS_TASK_STATE_STORE = True
except ImportError:  # Airflow 3.1 / 3.2
    HAS_TASK_STATE_STORE = False

    class ResumableJobMixin:  # type: ignore[no-redef]
        """Airflow < 3.3 has no task_state_store: create → wait → result (a retry finds the earlier
        try's execution by its tags, see ``OosCreateExecutionOperator.before_create``)."""

        external_id_key: ClassVar[str] = "remote_job_id"
        durable: bool = False

        def execute_resumable(self, context: Any) -> Any:
            external_id = self.submit_job(context)  # type: ignore[attr-defined]
            self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
            return self.get_job_result(external_id, context)  # type: ignore[attr-defined]


def durable_kwargs(durable: bool | None) -> dict[str, Any]:
    """What to pass on for ``durable=``: to ``ResumableJobMixin`` on 3.3+; below, nothing (one warning)."""
    global _durable_warning_given
    if HAS_TASK_STATE_STORE:
        return {"durable": True if durable is None else durable}
    if durable is not None and not _durable_warning_given:
        _durable_warning_given = True
        warnings.warn(DURABLE_IGNORED_MESSAGE, UserWarning, stacklevel=4)
    return {}


def has_ui_plugins() -> bool:
    """Airflow >= 3.1: a plugin may add external views (and FastAPI apps) to the UI; Airflow 3.0's
    ``AirflowPlugin`` has no ``external_views``. Imported on call: only the plugins manager asks."""
    from airflow.plugins_manager import AirflowPlugin

    return hasattr(AirflowPlugin, "external_views")


def determine_kwargs(python_callable: Any, op_args: Any, context: Any) -> Any:
    """The keyword arguments a TaskFlow callable asks for (``@task.oos_shell``). Airflow >= 3.2 has it in
    the Task SDK, 3.1 in ``airflow.utils.operator_helpers``. Imported on call: DAG parsing never needs it."""
    try:
        from airflow.sdk.bases.decorator import determine_kwargs as found
    except ImportError:  # Airflow 3.1
        from airflow.utils.operator_helpers import determine_kwargs as found  # type: ignore[no-redef,attr-defined,unused-ignore]
    return found(python_callable, op_args, context)


__all__ = [
    "DURABLE_IGNORED_MESSAGE",
    "HAS_TASK_STATE_STORE",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "ResumableJobMixin",
    "conf",
    "determine_kwargs",
    "durable_kwargs",
    "has_ui_plugins",
]
