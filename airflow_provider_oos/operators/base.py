"""The base of the OOS operators and the sensor: the connection, the lazy hook and the shared checks.

Like Amazon's ``base_aws``: a mixin supplies what every OOS task repeats (the lazy hook, one read,
the waiting glue), and ``OosBaseOperator`` / ``OosBaseSensor`` add the ``oos_conn_id`` argument, so
an operator only says what it does. Cheap to import: the hook (and the HTTP stack with it) loads
when a task first uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseSensorOperator

from airflow_provider_oos.client.connection import DEFAULT_CONN_ID
from airflow_provider_oos.rules.waiting import ErrorTypes, Stop, failure_with_log, resolve_trigger_event

if TYPE_CHECKING:
    from airflow_provider_oos.client.models import Execution
    from airflow_provider_oos.hooks.oos import OosHook

OOS_TEMPLATE_FIELDS: tuple[str, ...] = ("oos_conn_id",)
# The templated run input shared by the operators that take a template from one of three sources.
RUN_INPUT_FIELDS: tuple[str, ...] = ("template_ref", "template_name", "template", "properties")


def check_conn_id(oos_conn_id: object) -> str:
    """The connection id, or ValueError naming the field (before any lookup or API call)."""
    if not isinstance(oos_conn_id, str) or not oos_conn_id.strip():
        raise ValueError(
            f"oos_conn_id must be a non-empty connection id (e.g. {DEFAULT_CONN_ID!r}), got {oos_conn_id!r}."
        )
    return oos_conn_id


class OosBaseHookMixin:
    """What every OOS task shares: the lazy ``hook`` on ``oos_conn_id`` and the waiting glue.

    It has no ``__init__``: ``OosBaseOperator`` and ``OosBaseSensor`` take ``oos_conn_id``, so
    Airflow applies ``default_args`` to it as to any operator argument.
    """

    oos_conn_id: str
    # The exceptions a wait ends with; the sensor swaps in Airflow-aware subclasses.
    wait_errors: ClassVar[ErrorTypes] = ErrorTypes()

    @cached_property
    def hook(self) -> OosHook:
        """The sync hook, made on first use (after templates are rendered)."""
        from airflow_provider_oos.hooks.oos import OosHook

        return OosHook(oos_conn_id=check_conn_id(self.oos_conn_id))

    def read_execution(self, execution_id: str, *, with_log: bool = False) -> Execution | Exception:
        """One read of the execution; the error is returned, not raised (it is an observation too)."""
        try:
            return self.hook.get_execution(execution_id, with_log=with_log)
        except Exception as err:
            return err

    def error_for_stop(self, stop: Stop, console_url: str) -> BaseException:
        """The exception that ends a wait. Polls read no logs: a failure is described from one more
        read with logs (or, if that read fails, from what is known)."""
        if stop.needs_log:
            stop = failure_with_log(stop, self.read_execution(stop.execution_id, with_log=True), console_url)
        return self.wait_errors.error_for(stop)

    def summary_from_event(self, event: Mapping[str, Any], timeout: float | None) -> dict[str, Any]:
        """After a deferral: the summary from the trigger's one event, or the error a wait in the
        worker would have raised (the trigger already read the failure with logs)."""
        return resolve_trigger_event(event, timeout=timeout, errors=self.wait_errors)


class OosBaseOperator(OosBaseHookMixin, BaseOperator):
    """Base of the OOS operators. Subclasses add their templated fields::

        class MyOosOperator(OosBaseOperator):
            template_fields = (*OOS_TEMPLATE_FIELDS, "my_field")

    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    def __init__(self, *, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = check_conn_id(oos_conn_id)  # fails at DAG parse time; again once rendered


class OosBaseSensor(OosBaseHookMixin, BaseSensorOperator):
    """Base of the OOS sensors.

    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    def __init__(self, *, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = check_conn_id(oos_conn_id)
