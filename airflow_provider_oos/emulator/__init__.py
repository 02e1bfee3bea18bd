"""A faithful local OOS: real HTTP server, bce-auth-v1 checks, SQLite state, execution engine.

Start it with `oos-emulator` / `python -m airflow_provider_oos.emulator`, or in tests with the
`oos_emulator` pytest fixture. Importing this package stays cheap: FastAPI and uvicorn are only
imported by the modules that serve HTTP (`app`, `__main__`).
"""

from __future__ import annotations

DEFAULT_ACCESS_KEY = "emulator-ak"
DEFAULT_SECRET_KEY = "emulator-sk"
READY_LINE_PREFIX = "OOS emulator listening on "
CONSOLE_LINE_PREFIX = "OOS emulator console (console_url): "
CONSOLE_PATH = "/console/execution/{execution_id}"
