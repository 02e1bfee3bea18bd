"""A small scriptable OOS-shaped HTTP server for hook tests (real sockets, real HTTP/1.1).

It checks every request's bce-auth-v1 signature with `airflow_provider_oos.client.auth.sign`,
records every request server side, and answers from a per-(method, path) script of replies,
falling back to a success envelope. It serves one base path (`base_path`: the seed's
`/api/logic/oos` by default, "" for the OpenAPI style); any other path gets a plain 404, as from a
gateway that has no such route. Test-only; the full emulator lives in the package.
"""

from __future__ import annotations

import calendar
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_oos.client.auth import sign

API = "/api/logic/oos"
# Distinctive secrets for the hook tests: any log line or message containing one is a leak.
SECRET_KEY = "SK-never-log-me-7f3a9c"
SESSION_TOKEN = "STS-never-log-me-b41e2d"


@dataclass
class Reply:
    """One scripted answer. `body` wins over `json`; `drop` closes the socket without answering."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def ok(cls, result: Any = None, **kwargs: Any) -> Reply:
        return cls(json={"success": True, "msg": "", "code": 200, "result": result}, **kwargs)

    @classmethod
    def bce_error(cls, status: int, code: str, message: str = "", request_id: str = "rid-body") -> Reply:
        return cls(status=status, json={"code": code, "message": message or code, "requestId": request_id})


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_port: int
    signature_ok: bool
    signed_header_names: list[str]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Responder = Callable[["ScriptedOosServer"], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (read timeout tests) leaves a broken pipe behind: expected.
        return


class ScriptedOosServer:
    def __init__(
        self,
        access_key: str = "test-ak",
        secret_key: str = "test-sk-0123456789abcdef",
        session_token: str | None = None,
        port: int = 0,
        base_path: str = API,
    ) -> None:
        self.base_path = base_path
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        self.requests: list[Recorded] = []
        self._script: dict[tuple[str, str], deque[Reply | Responder]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ScriptedOosServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def conn_json(self, **extra: Any) -> str:
        extras = {"retry_wait_min": 0.001, "retry_wait_max": 0.005, "timeout": 2, **extra}
        if self.base_path != API:
            extras.setdefault("base_path", self.base_path)
        if self.session_token:
            extras.setdefault("session_token", self.session_token)
        return json.dumps(
            {
                "conn_type": "baidu_oos",
                "login": self.access_key,
                "password": self.secret_key,
                "host": self.url,
                "extra": extras,
            }
        )

    # -- scripting and inspection --------------------------------------------------------------

    def script(self, method: str, path: str, *replies: Reply | Responder) -> None:
        """Queue replies for `METHOD {base_path}{path}`, used in order, then the default. A reply may
        be a function of the server (it sees every request so far) that returns the Reply."""
        with self._lock:
            self._script[(method, self.base_path + path)].extend(replies)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == self.base_path + path]

    # -- the handler ---------------------------------------------------------------------------

    def _next_reply(self, method: str, path: str, query: dict[str, str]) -> Reply:
        with self._lock:
            queue = self._script.get((method, path))
            scripted = queue.popleft() if queue else None
        if scripted is not None:
            return scripted if isinstance(scripted, Reply) else scripted(self)
        if not path.startswith(self.base_path + "/v"):  # not a route of this server's path style
            return Reply(status=404, body=b"404 page not found", headers={"Content-Type": "text/plain"})
        if (method, path) == ("GET", self.base_path + "/v2/execution"):  # unscripted: a running execution
            return Reply.ok({"id": query.get("id", "d-?"), "state": "RUNNING", "tasks": []})
        return Reply.ok({})

    def _verify(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[str | None, list[str]]:
        """Check the signature as the service would: None when fine, else the BCE error code."""
        parts = headers.get("authorization", "").split("/")
        if len(parts) != 6 or parts[0] != "bce-auth-v1":
            return "InvalidHTTPAuthHeader", []
        if parts[1] != self.access_key:
            return "InvalidAccessKeyId", []
        timestamp, signed = parts[2], [name for name in parts[4].split(";") if name]
        if headers.get("x-bce-date") != timestamp:
            return "SignatureDoesNotMatch", signed
        if self.session_token is not None and (
            headers.get("x-bce-security-token") != self.session_token or "x-bce-security-token" not in signed
        ):
            return "InvalidSessionToken", signed
        epoch = calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))
        expected = sign(
            self.access_key,
            self.secret_key,
            method,
            path,
            query,
            {name: headers.get(name, "") for name in signed} if signed else headers,
            epoch,
            int(parts[3]),
            headers_to_sign=signed or None,
        )
        return (None if expected == "/".join(parts) else "SignatureDoesNotMatch"), signed

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real service
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                split = urlsplit(self.path)
                path = unquote(split.path)
                query = dict(parse_qsl(split.query, keep_blank_values=True))
                headers = {name.lower(): value for name, value in self.headers.items()}
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                auth_error, signed = server._verify(self.command, path, query, headers)
                ok = auth_error is None
                with server._lock:
                    server.requests.append(
                        Recorded(self.command, path, query, headers, body, self.client_address[1], ok, signed)
                    )
                reply = server._next_reply(self.command, path, query)
                if auth_error is not None and reply.status < 400:
                    reply = Reply.bce_error(403, auth_error, f"authentication failed: {auth_error}")
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = reply.body if reply.body is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                answer_headers = {
                    "Content-Type": "application/json;charset=UTF-8",
                    "x-bce-request-id": headers.get("x-bce-request-id", ""),
                    **reply.headers,
                }
                for name, value in answer_headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        return Handler


def free_port() -> int:
    """A port with nothing listening on it (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
