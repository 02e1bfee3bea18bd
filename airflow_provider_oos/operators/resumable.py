"""Crash-safe create-then-wait: Airflow's ``ResumableJobMixin`` where it exists (3.3+), a stand-in below.

On Airflow 3.3 the mixin keeps the execution id in the ``task_state_store``, so a retry after a
worker crash reconnects to the same execution. Airflow 3.1/3.2 have no such store: the stand-in
runs create → wait → result, and accepts ``durable=`` (a DAG written for 3.3 still parses) with one
warning that it has no effect there.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.operator import BaseOperatorMeta

if TYPE_CHECKING:
    from airflow.sdk import Context

DURABLE_IGNORED_MESSAGE = (
    "durable= has no effect on Airflow < 3.3 (no task_state_store): a retry after a worker crash "
    "finds the execution of its earlier try by the execution's Airflow tags instead (reattach=True)."
)
_durable_warning_given = False  # one warning per process, however many tasks pass durable=

try:
    from airflow.sdk import ResumableJobMixin

    HAS_TASK_STATE_STORE = True
except ImportError:  # Airflow 3.1/3.2
    HAS_TASK_STATE_STORE = False

    class ResumableJobMixin:  # type: ignore[no-redef]
        """Airflow < 3.3 has no task_state_store: create → wait → result (a retry finds the earlier
        try's execution by its tags, see ``OosCreateExecutionOperator.before_create``).

        :param durable: accepted for DAGs written for Airflow 3.3; has no effect here (one warning).
        """

        external_id_key: ClassVar[str] = "remote_job_id"

        @BaseOperatorMeta._apply_defaults  # type: ignore[type-var]
        def __init__(self, *, durable: bool | None = None, **kwargs: Any) -> None:
            global _durable_warning_given
            super().__init__(**kwargs)
            self.durable = False
            if durable is not None and not _durable_warning_given:
                _durable_warning_given = True
                warnings.warn(DURABLE_IGNORED_MESSAGE, UserWarning, stacklevel=3)

        def execute_resumable(self, context: Context) -> Any:
            external_id = self.submit_job(context)  # type: ignore[attr-defined]
            self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
            return self.get_job_result(external_id, context)  # type: ignore[attr-defined]


__all__ = ["DURABLE_IGNORED_MESSAGE", "HAS_TASK_STATE_STORE", "ResumableJobMixin"]
