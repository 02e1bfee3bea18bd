"""A faithful local OOS: real HTTP server, bce-auth-v1 checks, SQLite state, execution engine.

Start it with `oos-emulator` / `python -m oos_emulator`, or in tests with the
`oos_emulator` pytest fixture. Importing this package stays cheap: FastAPI and uvicorn are only
imported by the modules that serve HTTP (`app` and the modules it assembles, `__main__`).

OOS calls (signed), each under both published path styles, `/api/logic/oos/v2/...` (seed) and
`/v2/...` (OpenAPI metadata): templates (create, check, update, delete, get, list), the operator
list at `/v1/operator/list` and `/v2/operator/list` (adds `categories`), create execution, get
execution (`withLog=true` adds each task's `log`), list executions, task detail, task children.
Every call honours the published `locale` query parameter (signed like the rest of the query):
reasons and error `msg` in Chinese by default (`zh-cn`), in English with `locale=en-us`; any other
value is answered like the default (`texts.py`).

Console (no signature): `GET /console/execution/{execution_id}`, a read-only HTML page per
execution; the CLI prints the template `http://HOST:PORT/console/execution/{execution_id}` for a
connection's `console_url` extra. `GET /console/` lists the executions.

Admin API (no signature), under `/emulator/`:
  `POST /emulator/reset`                      forget everything (templates, executions, faults)
  `GET|POST /emulator/instances`              fake BCC instances; POST
                                              `{"instanceIds": ["i-a"], "status": "Running"|"Stopped"}`
  `GET /emulator/executions`                  id, state, template, step states of every execution
  `GET /emulator/stats`                       `{"createExecutionCalls": n, "requests": {"METHOD path": n}}`
  `POST /emulator/executions/{id}/pause|resume|cancel|approve`   act as the person at the console
                                              (approve takes `{"step": name}` or `{}`)
  `GET|POST|DELETE /emulator/faults`          list, set (one rule per path and method), clear

A fault rule (POST /emulator/faults), every field but `path` optional; `path` is an OOS path in
either style, matched exactly; rates are probabilities per request:
  {"path": "/api/logic/oos/v2/execution", "method": "POST",
   "error429": 0, "error503": 0,            refused before the call takes effect
   "error500": 0, "error503AfterCommit": 0, "drop": 0,
                                            the call is committed, then answered 500 / answered
                                            503 / the connection is closed without an answer
   "answerDelayMs": 0, "answerDelayRate": 1, the committed call's answer is held this long (past
                                            a client's read timeout), combined with the above
   "latencyMs": 0, "latencyRate": 1,        wait before the call is handled
   "listVisibilityDelayMs": 0}              create-execution rules only: executions it creates
                                            appear in the list call this long after creation
For example, a create that is committed and then loses its answer:
  {"path": "/v2/execution", "method": "POST", "drop": 1.0}
  {"path": "/api/logic/oos/v2/execution", "method": "POST", "error503AfterCommit": 1.0}
  {"path": "/api/logic/oos/v2/execution", "method": "POST", "answerDelayMs": 30000}
  {"path": "/api/logic/oos/v2/execution", "method": "POST", "listVisibilityDelayMs": 5000}
"""

from __future__ import annotations

__version__ = "0.1.0"

DEFAULT_ACCESS_KEY = "emulator-ak"
DEFAULT_SECRET_KEY = "emulator-sk"
READY_LINE_PREFIX = "OOS emulator listening on "
CONSOLE_LINE_PREFIX = "OOS emulator console (console_url): "
CONSOLE_PATH = "/console/execution/{execution_id}"
