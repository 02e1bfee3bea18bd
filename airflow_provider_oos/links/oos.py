"""The "OOS Execution" button on a task: a deep link to the execution in the OOS console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

CONSOLE_URL_XCOM_KEY = "console_url"


class OosExecutionLink(BaseOperatorLink):
    """Reads the console URL the operator pushed to XCom key ``console_url`` right after create.

    The URL itself comes from the connection's ``console_url`` template (see the hook), so the link
    follows whatever console a deployment uses; an empty string means no execution was created.
    """

    name = "OOS Execution"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=CONSOLE_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
