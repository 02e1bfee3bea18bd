"""Where each published OOS operation is sent, and the query string exactly as it is signed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_oos.client.auth import encode


@dataclass(frozen=True)
class Route:
    """Where one published operation is sent.

    :param name: what the call does, for messages ("list executions").
    :param method: HTTP method.
    :param path: path below the connection's base path, e.g. `/v2/execution`.
    :param changes_state: whether the call creates or changes something (see the retry policy).
    :param openapi_only: published only in the OpenAPI metadata: a 404 means the endpoint
        does not offer the call (OosCallNotAvailableError), not that the work failed.
    """

    name: str
    method: str
    path: str
    changes_state: bool = False
    openapi_only: bool = False


CREATE_TEMPLATE = Route("create template", "POST", "/v2/template", changes_state=True)
CHECK_TEMPLATE = Route("check template", "POST", "/v2/template/check")
UPDATE_TEMPLATE = Route("update template", "PUT", "/v2/template", changes_state=True)
DELETE_TEMPLATE = Route("delete template", "DELETE", "/v2/template", changes_state=True)
GET_TEMPLATE = Route("get template", "GET", "/v2/template")
LIST_TEMPLATES = Route("list templates", "POST", "/v2/template/list")
LIST_OPERATORS = Route("list operators", "POST", "/v1/operator/list")
LIST_OPERATORS_V2 = Route("list operators (v2)", "POST", "/v2/operator/list")
CREATE_EXECUTION = Route("create execution", "POST", "/v2/execution", changes_state=True)
GET_EXECUTION = Route("get execution", "GET", "/v2/execution")
LIST_EXECUTIONS = Route("list executions", "POST", "/v2/execution/list", openapi_only=True)
GET_TASK = Route("get task", "GET", "/v2/task", openapi_only=True)
LIST_TASK_CHILDREN = Route("list task children", "POST", "/v2/task/children/list", openapi_only=True)


def query_string(query: Mapping[str, str] | None) -> str:
    """Encode a query exactly as it is signed (`%20`, not `+`), so server and signer agree."""
    if not query:
        return ""
    return "?" + "&".join(f"{encode(key)}={encode(value)}" for key, value in query.items())


def request_query(query: Mapping[str, str] | None, locale: str | None) -> Mapping[str, str] | None:
    """The query a call sends (and signs): its own parameters, plus ``locale`` when the connection
    sets one (every published call takes it)."""
    if locale is None:
        return query
    return {**(query or {}), "locale": locale}
