"""The hook the live check talks through: `OosHook` itself, with every HTTP exchange noted.

`LiveCheckHook` is an `OosHook` on settings given directly (no Airflow connection lookup). A
`requests` transport adapter, the library's own extension point, notes each exchange: method,
path and query, HTTP status, the request id sent and the one answered, and how long the answer
took. Nothing else of a request is kept: never a header value but the request ids.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_oos.client.answers import REQUEST_ID_HEADER
from airflow_provider_oos.client.connection import OosConnectionConfig
from airflow_provider_oos.hooks.oos import OosHook


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and what came back.

    :param method: the HTTP method.
    :param path: path and query as sent.
    :param status: the HTTP status; None when no answer came.
    :param sent_request_id: the ``x-bce-request-id`` the hook sent.
    :param request_id: the ``x-bce-request-id`` the service answered with, if any.
    :param ms: milliseconds until the answer's headers (or the failure).
    :param error: what went wrong on the wire when no answer came.
    """

    method: str
    path: str
    status: int | None
    sent_request_id: str | None
    request_id: str | None
    ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RecordingAdapter(HTTPAdapter):
    """Sends like the default adapter and appends an `Exchange` per request to `exchanges`.

    :param exchanges: the list to append to (shared by every hook of one live check).
    """

    def __init__(self, exchanges: list[Exchange]) -> None:
        super().__init__()
        self.exchanges = exchanges

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        started = time.monotonic()
        method, path = str(request.method), request.path_url
        sent_id = request.headers.get(REQUEST_ID_HEADER)
        try:
            response = super().send(request, *args, **kwargs)
        except requests.RequestException as exc:
            elapsed = (time.monotonic() - started) * 1000
            self.exchanges.append(Exchange(method, path, None, sent_id, None, elapsed, type(exc).__name__))
            raise
        elapsed = (time.monotonic() - started) * 1000
        answered = response.headers.get(REQUEST_ID_HEADER)
        self.exchanges.append(Exchange(method, path, response.status_code, sent_id, answered, elapsed))
        return response


class LiveCheckHook(OosHook):
    """`OosHook` on `config` (not on an Airflow connection), noting each exchange in `exchanges`.

    :param config: the parsed settings (see `airflow_provider_oos.live_check.settings`).
    :param exchanges: where each HTTP exchange is appended.
    """

    def __init__(self, config: OosConnectionConfig, exchanges: list[Exchange]) -> None:
        super().__init__(oos_conn_id="live_check")
        self.__dict__["config"] = config  # what OosHook.config would parse from a connection
        adapter = RecordingAdapter(exchanges)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
