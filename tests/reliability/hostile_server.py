"""A tiny local HTTP server that answers the OOS paths with hostile or broken responses.

Set `server.mode` before a call; every request then gets that answer. Modes are plain data
(status, headers, body) except the ones that misbehave on the wire (slow-loris, 50 MB body,
dropping the connection). Loopback only; a thread per connection.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIFTY_MB = 50 * 1024 * 1024


def _envelope(result: Any, **fields: Any) -> bytes:
    return json.dumps({"success": True, "msg": "", "code": 200, "result": result, **fields}).encode()


def _execution(**fields: Any) -> dict[str, Any]:
    return {"id": "d-hostile", "state": "RUNNING", "tasks": [], **fields}


# mode -> (HTTP status, content type, body)
CANNED: dict[str, tuple[int, str, bytes]] = {
    "html-502": (
        502,
        "text/html",
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    ),
    "html-200": (200, "text/html", b"<!DOCTYPE html><html><body>Login required</body></html>"),
    "truncated-json": (
        200,
        "application/json",
        b'{"success": true, "code": 200, "result": {"id": "d-1", "sta',
    ),
    "empty-body": (200, "application/json", b""),
    "json-array": (200, "application/json", b"[1, 2, 3]"),
    "success-false": (
        200,
        "application/json",
        json.dumps(
            {"success": False, "code": 400, "msg": "template.operators[0].operator is invalid"}
        ).encode(),
    ),
    "missing-result": (
        200,
        "application/json",
        json.dumps({"success": True, "code": 200, "msg": ""}).encode(),
    ),
    "result-not-object": (200, "application/json", _envelope("d-just-a-string")),
    "create-without-id": (200, "application/json", _envelope({"name": "no id here"})),
    "state-not-text": (200, "application/json", _envelope(_execution(state={"nested": True}))),
    "tasks-not-list": (200, "application/json", _envelope(_execution(tasks="none"))),
    "unknown-state": (200, "application/json", _envelope(_execution(state="EXPLODED"))),
    "bce-401": (
        401,
        "application/json",
        json.dumps({"code": "InvalidAccessKeyId", "message": "bad key", "requestId": "r-1"}).encode(),
    ),
    "envelope-404": (
        404,
        "application/json",
        json.dumps({"success": False, "code": 404, "msg": "execution d-x not found"}).encode(),
    ),
    "throttled-429": (
        429,
        "application/json",
        json.dumps({"code": "TooManyRequests", "message": "slow down", "requestId": "r-2"}).encode(),
    ),
}


class HostileServer:
    def __init__(self) -> None:
        self.mode = "html-502"
        self.requests = 0
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _answer(self) -> None:
                owner.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                owner.respond(self)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode in CANNED:
            status, content_type, body = CANNED[mode]
            self._send(handler, status, content_type, body)
        elif mode == "fifty-mb":
            self._fifty_mb(handler)
        elif mode == "slow-loris":
            self._slow_loris(handler)
        elif mode == "drop":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        else:
            raise AssertionError(f"unknown mode {mode}")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _fifty_mb(self, handler: BaseHTTPRequestHandler) -> None:
        """50 MB that looks like the start of an envelope and never becomes valid JSON."""
        head = b'{"success": true, "code": 200, "result": {"id": "d-big", "description": "'
        chunk = b"A" * (1024 * 1024)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(FIFTY_MB))
        handler.end_headers()
        try:
            handler.wfile.write(head)
            sent = len(head)
            while sent < FIFTY_MB:
                piece = chunk[: FIFTY_MB - sent]
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass  # the client gave up: fine

    def _slow_loris(self, handler: BaseHTTPRequestHandler) -> None:
        """Headers at once, then a body byte every 0.2 s forever: each read is quick, no end."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(10_000_000))
        handler.end_headers()
        try:
            handler.wfile.write(b'{"success": true, "result": {"id": "d-slow", "state": "')
            handler.wfile.flush()
            while not self._stop.is_set():
                handler.wfile.write(b"R")
                handler.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up: that is what we want
        handler.close_connection = True
