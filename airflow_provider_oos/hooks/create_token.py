"""Exactly-once create-execution: a create token on every create, and a lookup when the outcome is unknown.

OOS has no idempotency token and no cancel call, so a create is never resent once it may have
reached the service. Instead each create carries a unique token as the execution tag
`airflow-create-token` (next to the caller's tags). When the create gets no usable answer (a read
timeout, a connection dropped after sending, a 5xx), the hook lists the newest executions of that
template and looks for its token, trying a few times because a new execution may take a moment
to show in the list:

- found: that execution is the one this create started; its id is returned, and a warning says so;
- not found: OosCreateOutcomeUnknownError names the token and says nothing was found;
- the endpoint has no list call (OpenAPI-only; a 404): the create's own error is raised, as before
  this lookup existed, and a warning says once per process and connection that no lookup is possible.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_provider_oos.client import operations as ops
from airflow_provider_oos.client.models import Execution, Tag, Template
from airflow_provider_oos.client.payloads import MAX_PAGE_SIZE, TagsArg, read_tags
from airflow_provider_oos.exceptions import (
    OosApiError,
    OosCallNotAvailableError,
    OosConnectionError,
    OosCreateOutcomeUnknownError,
)

CREATE_TOKEN_TAG = "airflow-create-token"
# The lookup reads at most this many pages (of 100, newest first) of the template's executions,
# started at most this long before the create was sent (room for clock skew), ...
LOOKUP_PAGES = 5
LOOKUP_WINDOW_MS = 15 * 60 * 1000
# ... and searches this many times, waiting retry_wait_min, doubling (capped at retry_wait_max),
# in between: a new execution may not be listed at once.
LOOKUP_ATTEMPTS = 5


def outcome_unknown(error: OosApiError) -> bool:
    """Whether the create may have started an execution although it got no id back.

    :param error: the create's error.
    :return: True for a request that was sent and got no usable answer (not a TLS failure), or a 5xx.
    """
    if isinstance(error, OosConnectionError):
        return error.request_sent and not error.tls
    return error.status is not None and error.status >= 500


class CreateRecovery:
    """One create-execution for ``hook``, sent once, with its create token.

    :param hook: the hook whose connection and logger to use.
    """

    # Connections already told to have no list call (a warning once per process and connection).
    _told_no_list_call: ClassVar[set[str]] = set()

    def __init__(self, hook: ops.CallRunner) -> None:
        self.hook = hook

    def create(
        self,
        template: Template | Mapping[str, Any],
        properties: Mapping[str, Any] | None,
        description: str | None,
        tags: TagsArg,
        *,
        parallelism: int | None = None,
        manually: bool | None = None,
    ) -> str:
        """Send the create once; when its outcome is unknown, find it by its token (see the module docstring).

        :param template: as for `OosHook.create_execution`.
        :param properties: the template's parameters.
        :param description: the execution's description.
        :param tags: the caller's execution tags; a tag ``airflow-create-token`` among them is reused.
        :param parallelism: how many loop iterations OOS runs at once.
        :param manually: whether each step waits for a person.
        :return: the id (``d-…``) of the execution this create started.
        :raises OosCreateOutcomeUnknownError: no usable answer and no execution with the token found.
        :raises OosApiError: OOS refused the create, or the endpoint has no list call to look with.
        :raises ValueError: bad input, before any request.
        """
        given = read_tags(tags)
        token = next((t.value for t in given if t.key == CREATE_TOKEN_TAG and t.value), None)
        if token is None:  # a caller may bring its own token (the same one on every try of a task)
            token = uuid.uuid4().hex
            given.append(Tag(key=CREATE_TOKEN_TAG, value=token))
        call = ops.create_execution(
            template, properties, description, given, parallelism=parallelism, manually=manually
        )
        template_name = call.body["template"].get("name")
        sent_at_ms = int(time.time() * 1000)
        try:
            return self.hook.run(call)
        except OosApiError as error:
            if not outcome_unknown(error):
                raise
            return self._recover(error, token, template_name, sent_at_ms)

    def _recover(self, error: OosApiError, token: str, template_name: str | None, sent_at_ms: int) -> str:
        config = self.hook.config
        log = self.hook.log
        log.warning(
            "Create execution got no usable answer (%s); looking for its create token %s among the newest "
            "executions of template %r instead of sending it again.",
            error.message,
            token,
            template_name,
        )
        wait, last_list_error = config.retry_wait_min, None
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            try:
                found = self._find(token, template_name, sent_at_ms - LOOKUP_WINDOW_MS)
            except OosCallNotAvailableError:
                self._tell_no_list_call()
                raise error from None
            except OosApiError as list_error:
                found, last_list_error = None, list_error
            if found is not None:
                log.warning(
                    "Recovered OOS execution %s by its create token %s: the create reached OOS although "
                    "its answer was lost (%s). It was not sent again.",
                    found.id,
                    token,
                    error.message,
                )
                return found.id
            if attempt < LOOKUP_ATTEMPTS:
                time.sleep(wait)
                wait = min(wait * 2, config.retry_wait_max)
        listing = f" (the last search failed: {last_list_error})" if last_list_error else ""
        where = f"template {template_name!r}" if template_name else "any template"
        raise OosCreateOutcomeUnknownError(
            f"create execution got no usable answer ({error.message}), and no execution carrying create "
            f"token {token} (execution tag {CREATE_TOKEN_TAG!r}) was found among the newest executions of "
            f"{where} after {LOOKUP_ATTEMPTS} searches{listing}. Nothing was resent: it was most likely not "
            f"started; look for that tag in the OOS console before starting the work again.",
            create_token=token,
            cause=error,
        )

    def _find(self, token: str, template_name: str | None, since_ms: int) -> Execution | None:
        page_size = MAX_PAGE_SIZE
        for page_no in range(1, LOOKUP_PAGES + 1):
            page = self.hook.run(
                ops.list_executions(
                    page_no=page_no,
                    page_size=page_size,
                    template_name=template_name,
                    start_time=max(since_ms, 0),
                    sort="startTime",
                    ascending=False,
                )
            )
            for execution in page.executions:
                if execution.tag_map().get(CREATE_TOKEN_TAG) == token:
                    return execution
            if len(page.executions) < page_size:
                return None
        return None

    def _tell_no_list_call(self) -> None:
        conn_id = self.hook.oos_conn_id
        if conn_id in self._told_no_list_call:
            return
        self._told_no_list_call.add(conn_id)
        self.hook.log.warning(
            "This OOS endpoint has no list-executions call, so a create whose answer is lost cannot be "
            "looked up by its create token: such a create fails with its own error, as it may or may not "
            "have started an execution. (Said once per process for connection %r.)",
            conn_id,
        )
