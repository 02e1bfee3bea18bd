"""Create-execution, sent once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_oos import operations as ops
from airflow_provider_oos.models import Template

if TYPE_CHECKING:
    from airflow_provider_oos.hooks.oos import OosHook


class CreateRecovery:
    """Sends one create-execution for `hook`.

    :param hook: the hook whose connection to use.
    """

    def __init__(self, hook: OosHook) -> None:
        self.hook = hook

    def create(
        self,
        template: Template | Mapping[str, Any],
        properties: Mapping[str, Any] | None,
        description: str | None,
        tags: ops.TagsArg,
        *,
        parallelism: int | None = None,
        manually: bool | None = None,
    ) -> str:
        call = ops.create_execution(
            template, properties, description, tags, parallelism=parallelism, manually=manually
        )
        return self.hook.run(call)
