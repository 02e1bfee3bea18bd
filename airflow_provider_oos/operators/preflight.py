"""OosPreflightOperator: check a planned OOS run hours before its window, changing nothing.

Importing this module stays cheap: the hook (and the HTTP stack with it) loads when the task runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_oos.client.models import Template
from airflow_provider_oos.exceptions import OosPreflightError
from airflow_provider_oos.operators.base import OOS_TEMPLATE_FIELDS, RUN_INPUT_FIELDS, OosBaseOperator
from airflow_provider_oos.operators.execution_request import check_template_source, json_object
from airflow_provider_oos.rules.preflight import run_preflight
from airflow_provider_oos.version_compat import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context


class OosPreflightOperator(OosBaseOperator):
    """Check, without changing anything, that a planned OOS execution can start: run it the evening
    before a maintenance window, so a problem is found while there is time to fix it.

    Checks: the template exists (``template_name`` or ``template_ref``), or, given inline, passes
    the local rules and the service's check call; every required template property is given; each
    value matches its declared type (string, number, boolean, list, object, bccInstance,
    hpasInstance); every ``{"Ref": …}`` of a step can be resolved. Only read calls are made: no
    execution is created, no template is changed.

    Problems fail the task without retries (an ``AirflowFailException`` whose message names each
    property or field and the fix); API errors (network, auth) are raised as they are, so the
    task's retries apply. Warnings (a property the template does not declare, an unpublished type)
    are logged. Returns the report as XCom: ``{"ok", "template", "errors", "warnings", "checked"}``.

    Give the same template source and properties as the ``OosCreateExecutionOperator`` it checks.

    :param template_ref: the id (``tpl-…``) of an existing template (templated).
    :param template_name: the name of an existing template (templated).
    :param template: an inline template (templated): a ``Template``, a dict, JSON text or a ``.json``
        file path. Give exactly one of ``template_ref``, ``template_name`` and ``template``.
    :param properties: the properties the run will be given (templated, JSON).
    :param fail_on_warnings: fail on warnings too (default False: they are only logged).
    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    template_fields: Sequence[str] = (
        *OOS_TEMPLATE_FIELDS,
        *RUN_INPUT_FIELDS,
    )
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"template": "json", "properties": "json"}
    ui_color = "#b6d3ff"

    def __init__(
        self,
        *,
        template_ref: str | None = None,
        template_name: str | None = None,
        template: Template | dict[str, Any] | str | None = None,
        properties: dict[str, Any] | str | None = None,
        fail_on_warnings: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template_ref = template_ref
        self.template_name = template_name
        self.template = template
        self.properties = properties
        self.fail_on_warnings = fail_on_warnings
        check_template_source(template_ref, template_name, template)

    def execute(self, context: Context) -> dict[str, Any]:
        check_template_source(self.template_ref, self.template_name, self.template)
        report = run_preflight(
            self.hook,
            template=self.template,
            template_name=self.template_name,
            template_ref=self.template_ref,
            properties=json_object(self.properties if self.properties is not None else {}, "properties"),
        )
        if report.ok and not (self.fail_on_warnings and report.warnings):
            (self.log.warning if report.warnings else self.log.info)("%s", report.describe())
            return report.to_dict()
        message = str(OosPreflightError(report))
        if report.ok:
            message = f"{message}\nfail_on_warnings is set: the warnings above fail the preflight."
        # The planned run itself is wrong: retrying cannot fix it before a person does.
        raise AirflowFailException(message)
