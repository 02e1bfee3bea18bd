"""The base of the OOS operators and the sensor: the connection, the lazy hook and the shared checks.

Like Amazon's ``base_aws``: one mixin holds what every OOS task repeats, so an operator only says
what it does. Cheap to import: the hook (and the HTTP stack with it) loads when a task first uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.operator import BaseOperatorMeta

from airflow_provider_oos.connection import DEFAULT_CONN_ID
from airflow_provider_oos.waiting import ErrorTypes, Stop, failure_with_log, resolve_trigger_event

if TYPE_CHECKING:
    from airflow_provider_oos.hooks.oos import OosHook
    from airflow_provider_oos.models import Execution

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


class OosBaseOperatorMixin:
    """Connection plumbing of every OOS task: ``oos_conn_id``, the lazy ``hook`` and the waiting glue.

    Put it first in the bases, before the Airflow class, and add its templated field::

        class MyOosOperator(OosBaseOperatorMixin, BaseOperator):
            template_fields = (*OOS_TEMPLATE_FIELDS, "my_field")

    ``default_args={"oos_conn_id": ...}`` of a DAG applies to it like to any operator argument.

    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    # The exceptions a wait ends with; the sensor swaps in Airflow-aware subclasses.
    wait_errors: ClassVar[ErrorTypes] = ErrorTypes()

    @BaseOperatorMeta._apply_defaults  # type: ignore[type-var]
    def __init__(self, *, oos_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oos_conn_id = oos_conn_id
        check_conn_id(oos_conn_id)  # fails at DAG parse time; checked again once rendered

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
