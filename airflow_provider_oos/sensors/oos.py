"""Wait for an OOS execution started elsewhere (e.g. a fire-and-forget OosCreateExecutionOperator)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_oos.exceptions import (
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
)
from airflow_provider_oos.links.oos import OosExecutionLink
from airflow_provider_oos.waiting import ProgressReporter, resolve_event, settle, validate_on_paused

try:
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef]
    from airflow.exceptions import AirflowFailException, AirflowSensorTimeout  # type: ignore[no-redef]

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_oos.hooks.oos import OosHook


# A final failure cannot change by poking again, so the sensor fails without retries (and soft_fail
# turns it into a skip): these are both the provider's error and Airflow's "fail now" signal.
class OosSensorExecutionFailedError(OosExecutionFailedError, AirflowFailException):
    """The awaited execution ended FAILED, CANCELED or ROLLBACK_*."""


class OosSensorExecutionPausedError(OosExecutionPausedError, AirflowFailException):
    """The awaited execution is PAUSED and the sensor was told not to wait (on_paused="fail")."""


class OosSensorTimeoutError(OosExecutionTimeoutError, AirflowSensorTimeout):
    """The deferred sensor's timeout passed before the execution was final."""


class OosExecutionSensor(BaseSensorOperator):
    """Wait until an OOS execution is final; return the same summary as OosCreateExecutionOperator.

    ``execution_id`` is templated, e.g. ``"{{ ti.xcom_pull(task_ids='start', key='execution_id') }}"``.
    Works in ``poke``, ``reschedule`` and deferrable mode (``deferrable=True``: the first state is
    checked on the worker, then the triggerer waits until the sensor's ``timeout``).

    Outcomes: SUCCESS → done, the summary is the XCom return value (via ``PokeReturnValue``).
    FAILED/CANCELED/ROLLBACK_* → :class:`OosSensorExecutionFailedError` (an ``AirflowFailException``:
    no pointless retries; with ``soft_fail=True`` the task is skipped instead). PAUSED → keep
    waiting with one warning and the console link, or fail (``on_paused="fail"``). Unknown states
    are logged once and waited on. The sensor never changes the execution.
    """

    template_fields: Sequence[str] = ("execution_id",)
    operator_extra_links = (OosExecutionLink(),)
    ui_color = "#2468f2"

    def __init__(
        self,
        *,
        execution_id: str,
        on_paused: str = "wait",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        oos_conn_id: str = "oos_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.execution_id = execution_id
        self.on_paused = validate_on_paused(on_paused)
        self.deferrable = deferrable
        self.oos_conn_id = oos_conn_id
        if not isinstance(oos_conn_id, str) or not oos_conn_id:
            raise ValueError(f"oos_conn_id must be a non-empty connection id, got {oos_conn_id!r}.")
        self._reporter: ProgressReporter | None = None

    @cached_property
    def hook(self) -> OosHook:
        from airflow_provider_oos.hooks.oos import OosHook

        return OosHook(oos_conn_id=self.oos_conn_id)

    def _checked_execution_id(self) -> str:
        if not isinstance(self.execution_id, str) or not self.execution_id.strip():
            raise ValueError(
                f"execution_id must be a non-empty OOS execution id (d-…), got {self.execution_id!r}; "
                "check the template or XCom it comes from."
            )
        return self.execution_id.strip()

    def poke(self, context: Context) -> PokeReturnValue:
        execution_id = self._checked_execution_id()
        console_url = self.hook.console_url(execution_id)
        if self._reporter is None or self._reporter.execution_id != execution_id:
            self._reporter = ProgressReporter(self.log, execution_id, console_url)
            context["ti"].xcom_push(key="console_url", value=console_url)
        execution = self.hook.get_execution(execution_id)
        self._reporter.report(execution)
        summary = settle(
            execution,
            on_paused=self.on_paused,
            console_url=console_url,
            failed_error=OosSensorExecutionFailedError,
            paused_error=OosSensorExecutionPausedError,
        )
        return PokeReturnValue(is_done=summary is not None, xcom_value=summary)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # Deferrable: look once on the worker; defer only if the execution is not final yet.
        try:
            first = self.poke(context)
        except (OosSensorExecutionFailedError, OosSensorExecutionPausedError) as err:
            if self.soft_fail or getattr(self, "never_fail", False):
                _skip(err)
            raise
        if first.is_done:
            return first.xcom_value
        from airflow_provider_oos.triggers.oos import OosExecutionTrigger

        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=OosExecutionTrigger(
                execution_id=self._checked_execution_id(),
                oos_conn_id=self.oos_conn_id,
                poll_interval=self._poll_seconds(),
                deadline=time.time() + timeout,
                on_paused=self.on_paused,
            ),
            method_name="execute_complete",
        )

    def _poll_seconds(self) -> float:
        interval = self.poke_interval
        return interval.total_seconds() if isinstance(interval, timedelta) else float(interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        return resolve_event(
            event,
            on_paused=self.on_paused,
            timeout=timeout,
            failed_error=OosSensorExecutionFailedError,
            paused_error=OosSensorExecutionPausedError,
            timeout_error_type=OosSensorTimeoutError,
        )


def _skip(err: BaseException) -> None:
    try:
        from airflow.sdk.exceptions import AirflowSkipException
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
