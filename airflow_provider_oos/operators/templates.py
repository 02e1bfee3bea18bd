"""Operators that keep OOS templates next to the DAGs that run them: upsert by name, delete.

Also importable from ``airflow_provider_oos.operators.oos``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_oos.client.models import Template
from airflow_provider_oos.client.template_rules import prepare_inline_template
from airflow_provider_oos.operators.base import OOS_TEMPLATE_FIELDS, OosBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def _is_subset(wanted: Any, actual: Any) -> bool:
    """True when every field the user set has the same value on the server (which adds defaults)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_is_subset(v, actual.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(wanted) == len(actual)
            and all(_is_subset(w, a) for w, a in zip(wanted, actual, strict=True))
        )
    return bool(wanted == actual)


class OosUpsertTemplateOperator(OosBaseOperator):
    """Create an OOS template, or update the one with the same name if it differs; return its id.

    Idempotent: when the stored template already has every field given here, nothing is sent, so
    running it twice changes nothing the second time. Fields the server adds (defaults) are ignored
    in the comparison; an ``id`` in the input (e.g. a template exported from the console) is ignored,
    the template is matched by name. Keeps templates in version control next to the DAGs that run them.

    :param template: the template (templated): a ``Template``, a dict, JSON text, or the path of a
        ``.json`` file (rendered through ``template_ext``). It needs a ``name`` and ``operators``.
    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    template_fields: Sequence[str] = (*OOS_TEMPLATE_FIELDS, "template")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"template": "json"}

    def __init__(self, *, template: Template | dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.template = template
        if template is None:
            raise ValueError("template is required: a Template, a dict or JSON text with name and operators.")

    def execute(self, context: Context) -> str:
        from airflow_provider_oos.exceptions import OosNotFoundError

        wanted = {
            key: value
            for key, value in prepare_inline_template(self.template).to_api().items()
            if key != "id"
        }
        desired = Template.model_validate(wanted)
        if desired.name is None:  # prepare_inline_template requires a name; this keeps mypy and -O honest
            raise ValueError("template.name is required.")
        try:
            existing = self.hook.get_template(desired.name)
        except OosNotFoundError:
            template_id = self.hook.create_template(desired)
            self.log.info("Created OOS template %r: %s.", desired.name, template_id)
            return template_id
        if existing.id is None:
            raise ValueError(f"OOS returned template {desired.name!r} without an id; cannot update it.")
        if _is_subset(wanted, existing.to_api()):
            self.log.info("OOS template %r (%s) is up to date; nothing to do.", desired.name, existing.id)
            return existing.id
        desired.id = existing.id
        self.hook.update_template(desired)
        self.log.info("Updated OOS template %r (%s).", desired.name, existing.id)
        return existing.id


class OosDeleteTemplateOperator(OosBaseOperator):
    """Delete an OOS template by id or by name; return its id, or None when it did not exist.

    :param template_id: the template's id (``tpl-…``, templated). Give this or ``template_name``.
    :param template_name: the template's name (templated). Give this or ``template_id``.
    :param ignore_missing: a missing template is fine (default); False raises ``OosNotFoundError``.
    :param oos_conn_id: the ``baidu_oos`` connection to use (templated). Default ``oos_default``.
    """

    template_fields: Sequence[str] = (*OOS_TEMPLATE_FIELDS, "template_id", "template_name")

    def __init__(
        self,
        *,
        template_id: str | None = None,
        template_name: str | None = None,
        ignore_missing: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.template_id = template_id
        self.template_name = template_name
        self.ignore_missing = ignore_missing
        self._check_template_choice()

    def _check_template_choice(self) -> None:
        """Exactly one of template_id and template_name, and not blank."""
        if (self.template_id is None) == (self.template_name is None):
            raise ValueError("Pass exactly one of template_id (a tpl-… id) or template_name.")
        for field in ("template_id", "template_name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{field} must be a non-empty string, got {value!r}.")

    def execute(self, context: Context) -> str | None:
        from airflow_provider_oos.exceptions import OosNotFoundError

        self._check_template_choice()  # templates are rendered now
        try:
            template_id = self.template_id or self.hook.get_template(str(self.template_name)).id
            if template_id is None:
                raise OosNotFoundError(f"template {self.template_name!r} has no id")
            self.hook.delete_template(template_id)
        except OosNotFoundError:
            if not self.ignore_missing:
                raise
            self.log.info(
                "OOS template %s does not exist; nothing to delete.", self.template_id or self.template_name
            )
            return None
        self.log.info("Deleted OOS template %s.", template_id)
        return template_id
