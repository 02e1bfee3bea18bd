"""Wait for an OOS execution started elsewhere (e.g. a fire-and-forget OosCreateExecutionOperator)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import PokeReturnValue

from airflow_provider_oos.exceptions import (
    OosExecutionFailedError,
    OosExecutionPausedError,
    OosExecutionTimeoutError,
)
from airflow_provider_oos.links.oos import OosExecutionLink
from airflow_provider_oos.operators.base import OOS_TEMPLATE_FIELDS, OosBaseSensor
from airflow_provider_oos.operators.safety import WorkerAttention, defer_again
from airflow_provider_oos.rules.notify import ATTENTION_STATUS, NotifierArg, validate_notifiers
from airflow_provider_oos.rules.waiting import (
    ErrorTypes,
    Finish,
    Sleep,
    WaitingStateMachine,
    log_notes,
    validate_on_paused,
)
from airflow_provider_oos.version_compat import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    conf,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


# A final failure cannot change by poking again, so the sensor fails without retries (and soft_fail
# turns it into a skip): these are both the provider's error and Airflow's "fail now" signal.
class OosSensorExecutionFailedError(OosExecutionFailedError, AirflowFailException):
    """The awaited execution ended FAILED, CANCELED or ROLLBACK_*."""


class OosSensorExecutionPausedError(OosExecutionPausedError, AirflowFailException):
    """The awaited execution is PAUSED and the sensor was told not to wait (on_paused="fail")."""


class OosSensorTimeoutError(OosExecutionTimeoutError, AirflowSensorTimeout):
    """The deferred sensor's timeout passed before the execution was final."""


class OosExecutionSensor(OosBaseSensor):
    """Wait until an OOS execution is final; return the same summary as OosCreateExecutionOperator.

    Works in ``poke``, ``reschedule`` and deferrable mode (``deferrable=True``: the first state is
    checked on the worker, then the triggerer waits until the sensor's ``timeout``).

    Outcomes: SUCCESS → done, the summary is the XCom return value (via ``PokeReturnValue``).
    FAILED/CANCELED/ROLLBACK_* → :class:`OosSensorExecutionFailedError` (an ``AirflowFailException``:
    no pointless retries; with ``soft_fail=True`` the task is skipped instead), naming the failing
    step, reason, errorCode, loop iteration and log tail (read once with ``withLog``). PAUSED → keep
    waiting with one warning and the console link, or fail (``on_paused="fail"``). Unknown states
    are logged once and waited on. A transient API error (connection, 429, 5xx) is "not done yet";
    in ``poke`` mode five in a row end the wait. The sensor never changes the execution.

    :param execution_id: the execution to wait for (``d-…``, templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='start', key='execution_id') }}"``.
    :param on_paused: ``"wait"`` (default) or ``"fail"`` when the execution waits for a person.
    :param deferrable: wait in the triggerer instead of poking. Default from
        ``[operators] default_deferrable``.
    :param on_pause_callback: Airflow notifier(s) or callable(s) called once per pause with the task
        context plus ``oos_event``, ``oos_execution_id``, ``oos_console_url`` and ``oos_message``
        (``poke`` and deferrable mode; in deferrable mode the trigger fires an event and the sensor
        notifies in the worker, then defers again). Not with ``mode="reschedule"``: nothing carries
        the pause over between reschedules, so each poke would notify again.
    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    template_fields: Sequence[str] = (*OOS_TEMPLATE_FIELDS, "execution_id")
    operator_extra_links = (OosExecutionLink(),)
    ui_color = "#2468f2"
    wait_errors: ClassVar[ErrorTypes] = ErrorTypes(
        failed=OosSensorExecutionFailedError,
        paused=OosSensorExecutionPausedError,
        timeout=OosSensorTimeoutError,
    )

    def __init__(
        self,
        *,
        execution_id: str,
        on_paused: str = "wait",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        on_pause_callback: NotifierArg = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.execution_id = execution_id
        self.on_paused = validate_on_paused(on_paused)
        self.deferrable = deferrable
        self.on_pause_callback = validate_notifiers(on_pause_callback, "on_pause_callback")
        if self.on_pause_callback and self.mode == "reschedule" and not deferrable:
            raise ValueError(
                "on_pause_callback needs mode='poke' or deferrable=True: with mode='reschedule' each "
                "poke starts afresh and would notify the same pause again."
            )
        self._machine: WaitingStateMachine | None = None  # kept across pokes of one try (poke mode)
        self._attention = WorkerAttention(pause_callbacks=self.on_pause_callback)

    def _checked_execution_id(self) -> str:
        if not isinstance(self.execution_id, str) or not self.execution_id.strip():
            raise ValueError(
                f"execution_id must be a non-empty OOS execution id (d-…), got {self.execution_id!r}; "
                "check the template or XCom it comes from."
            )
        return self.execution_id.strip()

    def _machine_for(self, execution_id: str, context: Context) -> WaitingStateMachine:
        if self._machine is None or self._machine.execution_id != execution_id:
            console_url = self.hook.console_url(execution_id)
            context["ti"].xcom_push(key="console_url", value=console_url)
            # Airflow paces the pokes; the interval here only scales the backoff after API errors.
            interval = _seconds(self.poke_interval) or 1.0
            self._machine = WaitingStateMachine(
                execution_id, console_url, poll_interval=interval, on_paused=self.on_paused
            )
            self._attention = WorkerAttention(pause_callbacks=self.on_pause_callback)
        return self._machine

    def poke(self, context: Context) -> PokeReturnValue:
        execution_id = self._checked_execution_id()
        machine = self._machine_for(execution_id, context)
        action = machine.next_action(self.read_execution(execution_id), time.monotonic())
        log_notes(self.log, action.notes)
        if isinstance(action, Sleep):
            if action.execution is not None:
                self._attention.observe(action.execution, context, machine.console_url, self.log)
            return PokeReturnValue(is_done=False)
        if isinstance(action, Finish):
            return PokeReturnValue(is_done=True, xcom_value=action.summary)
        raise self.error_for_stop(action, machine.console_url)

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

        self.defer(
            trigger=OosExecutionTrigger(
                execution_id=self._checked_execution_id(),
                oos_conn_id=self.oos_conn_id,
                poll_interval=_seconds(self.poke_interval),
                deadline=time.time() + _seconds(self.timeout),
                on_paused=self.on_paused,
                **self._attention.trigger_kwargs(),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: the same outcome rules, applied to its one event. A pause
        (an ``attention`` event) is notified here, in the worker, then the wait defers again."""
        if event.get("status") != ATTENTION_STATUS:
            return self.summary_from_event(event, _seconds(self.timeout))
        defer_again(self, WorkerAttention(pause_callbacks=self.on_pause_callback), event, context)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _skip(err: BaseException) -> None:
    raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
