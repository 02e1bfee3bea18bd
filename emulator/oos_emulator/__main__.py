"""CLI: `oos-emulator` / `python -m oos_emulator`.

Prints exactly `OOS emulator listening on http://HOST:PORT` (flushed) once it accepts connections,
then `OOS emulator console (console_url): http://HOST:PORT/console/execution/{execution_id}`: the
URL template of the read-only execution page, for the `console_url` extra of a connection pointed
at the emulator. Stops cleanly on SIGINT/SIGTERM (uvicorn's handlers), committing the SQLite file.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from oos_emulator import (
    CONSOLE_LINE_PREFIX,
    CONSOLE_PATH,
    DEFAULT_ACCESS_KEY,
    DEFAULT_SECRET_KEY,
    READY_LINE_PREFIX,
)

SECRET_KEY_ENV = "OOS_EMULATOR_SECRET_KEY"
SESSION_TOKEN_ENV = "OOS_EMULATOR_SESSION_TOKEN"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="oos-emulator", description="A local Baidu OOS emulator (signed API, SQLite, execution engine)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)"
    )
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY, help="accepted access key id")
    # Secrets may come from the environment so that they stay out of process listings.
    parser.add_argument(
        "--secret-key",
        default=os.environ.get(SECRET_KEY_ENV, DEFAULT_SECRET_KEY),
        help=f"its secret access key (or env {SECRET_KEY_ENV})",
    )
    parser.add_argument(
        "--session-token",
        default=os.environ.get(SESSION_TOKEN_ENV) or None,
        help=f"STS token: requests with this key must send and sign it (or env {SESSION_TOKEN_ENV})",
    )
    parser.add_argument("--db", default=None, help="SQLite file to keep state in (default: in memory)")
    parser.add_argument("--instances", default="", help="fake BCC instances to seed, running: i-a,i-b")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every simulated duration by this (0.01 runs 100x faster; default 1)",
    )
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be > 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sock = _bind(args.host, args.port)  # before the heavy imports: a taken port fails fast
    if sock is None:
        return 2
    import uvicorn

    from oos_emulator.app import create_app
    from oos_emulator.signature import KeyPair
    from oos_emulator.state import Emulator, EmulatorConfig

    key = KeyPair(args.access_key, args.secret_key, args.session_token or None)
    emulator = Emulator(
        EmulatorConfig(
            keys={key.access_key: key},
            db_path=args.db,
            time_scale=args.time_scale,
            instances=[i.strip() for i in args.instances.split(",") if i.strip()],
        )
    )
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"{READY_LINE_PREFIX}http://{shown_host}:{port}", flush=True)
                print(f"{CONSOLE_LINE_PREFIX}http://{shown_host}:{port}{CONSOLE_PATH}", flush=True)

    config = uvicorn.Config(
        create_app(emulator),
        log_level="warning",
        access_log=False,
        http="auto",  # httptools when installed
        loop="auto",  # uvloop when installed
        lifespan="on",
        timeout_keep_alive=30,
    )
    server = Server(config)
    emulator.connections = lambda: _connections(server)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler that
    # was installed before it; a no-op one there makes a clean stop exit with status 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    server.run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        print(f"oos-emulator: cannot bind {host}:{port}: {error}", file=sys.stderr)
        return None
    return sock


def _connections(server: Any) -> Any:
    return server.server_state.connections


if __name__ == "__main__":
    sys.exit(main())
