"""Bad-input catalogue: every case asserts the exception type AND that the message names the field.

Connection and argument mistakes are local: they must be refused before any API call, which is
counted on the emulator (`/emulator/stats` shows no request at all). Hostile or broken answers
come from a tiny local server (`hostile_server.py`): HTML, truncated JSON, success=false, a
missing result, an unknown state, a 50 MB body, a slow-loris that never finishes its answer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_oos.exceptions import (
    OosApiError,
    OosAuthError,
    OosExecutionTimeoutError,
    OosNotFoundError,
    OosThrottledError,
)

from .figures import record
from .hostile_server import HostileServer
from .support import conn_env_name, context_for

# ---- connections ----------------------------------------------------------------------------

# (id, fields to change in the emulator's connection, words the message must contain)
CONNECTION_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("missing-login", {"login": None}, ["login"]),
    ("blank-login", {"login": "   "}, ["login"]),
    ("missing-password", {"password": None}, ["password"]),
    ("url-without-host", {"host": "http://"}, ["host"]),
    ("url-bad-scheme", {"host": "ftp://127.0.0.1:8765"}, ["host", "scheme"]),
    ("url-with-path", {"host": "http://127.0.0.1:8765/api/logic/oos"}, ["host", "path"]),
    ("url-with-credentials", {"host": "http://ak:sk@127.0.0.1:8765"}, ["host"]),
    ("url-with-query", {"host": "http://127.0.0.1:8765/?x=1"}, ["host"]),
    ("host-with-slash", {"host": "oos.bj.baidubce.com/api"}, ["host"]),
    ("host-port-disagree", {"port": 1234}, ["port"]),
    ("port-out-of-range", {"host": "127.0.0.1", "port": 70000}, ["port"]),
    ("unknown-extra", {"extra": {"regoin": "bj"}}, ["regoin"]),
    ("two-unknown-extras", {"extra": {"endpoint": "x", "verify": False}}, ["endpoint", "verify"]),
    ("extra-not-json", {"extra": "{region: bj"}, ["extra", "JSON"]),
    ("extra-json-list", {"extra": "[1, 2]"}, ["extra"]),
    ("scheme-unknown", {"host": "127.0.0.1:8765", "extra": {"scheme": "gopher"}}, ["scheme"]),
    # (A full URL's own scheme now wins over the `scheme` extra: issue 11, item 2.)
    ("base-path-not-a-path", {"extra": {"base_path": "api/logic/oos"}}, ["base_path"]),
    ("region-bad", {"extra": {"region": "BJ!"}}, ["region"]),
    ("region-not-text", {"extra": {"region": 5}}, ["region"]),
    ("timeout-not-numeric", {"extra": {"timeout": "soon"}}, ["timeout"]),
    ("timeout-zero", {"extra": {"timeout": 0}}, ["timeout"]),
    ("max-retries-fraction", {"extra": {"max_retries": 1.5}}, ["max_retries"]),
    ("max-retries-negative", {"extra": {"max_retries": -1}}, ["max_retries"]),
    ("retry-wait-max-below-min", {"extra": {"retry_wait_min": 5, "retry_wait_max": 1}}, ["retry_wait_max"]),
    ("console-url-bad-placeholder", {"extra": {"console_url": "https://x/{bogus}"}}, ["console_url"]),
    ("session-token-not-text", {"extra": {"session_token": 12345}}, ["session_token"]),
]


@pytest.mark.parametrize(
    ("fields", "words"), [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES]
)
def test_bad_connection_is_refused_before_any_call(
    oos_emulator: Any, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], words: list[str]
) -> None:
    from airflow.sdk import Connection

    from airflow_provider_oos.client.connection import parse_connection
    from airflow_provider_oos.hooks.oos import OosHook

    conn: dict[str, Any] = json.loads(oos_emulator.conn_json)
    raw_extra = isinstance(fields.get("extra"), str)
    for key, value in fields.items():
        if value is None:
            conn.pop(key, None)
        else:
            conn[key] = value
    template = {"name": "t", "operators": [{"name": "s", "operator": "BCE::BCC::StopInstance"}]}
    with pytest.raises(ValueError) as caught:
        if raw_extra:
            # Extra text that is not a JSON object, as typed in the UI. (Airflow 3.1 cannot even
            # load such a connection from an environment variable, so it is built directly.)
            parse_connection(Connection(conn_id="oos_bad", **conn))
        else:
            monkeypatch.setenv(conn_env_name("oos_bad"), json.dumps(conn))
            OosHook(oos_conn_id="oos_bad").create_execution(template)
    assert_names(caught.value, words)
    assert_no_api_call(oos_emulator)
    record("bad input", connection_cases=1)


# ---- operator, sensor and trigger arguments ---------------------------------------------------

STEP = {"name": "stop", "operator": "BCE::BCC::StopInstance", "properties": {"instanceIds": ["i-1"]}}
TEMPLATE = {"name": "tpl", "operators": [STEP]}


def step(**changes: Any) -> dict[str, Any]:
    return {**STEP, **changes}


def template(**changes: Any) -> dict[str, Any]:
    return {**TEMPLATE, **changes}


def two_steps(**changes: Any) -> dict[str, Any]:
    return template(operators=[step(name="a"), step(name="b")], **changes)


# (id, operator kwargs, exception type, words the message must contain)
ARGUMENT_CASES: list[tuple[str, dict[str, Any], type[Exception], list[str]]] = [
    ("no-template-source", {}, ValueError, ["template_ref", "template_name", "template"]),
    (
        "two-template-sources",
        {"template_ref": "tpl-1", "template": TEMPLATE},
        ValueError,
        ["template_ref", "template"],
    ),
    (
        "three-template-sources",
        {"template_ref": "tpl-1", "template_name": "n", "template": TEMPLATE},
        ValueError,
        ["template_name"],
    ),
    ("template-ref-not-an-id", {"template_ref": "my-template"}, ValueError, ["template_ref", "tpl-"]),
    ("template-name-blank", {"template_name": "  "}, ValueError, ["template_name"]),
    ("template-not-json-text", {"template": "{not json"}, ValueError, ["template", "JSON"]),
    ("template-wrong-type", {"template": 42}, TypeError, ["template"]),
    ("template-without-name", {"template": {"operators": [STEP]}}, ValueError, ["template.name"]),
    ("empty-operators", {"template": template(operators=[])}, ValueError, ["template.operators"]),
    (
        "step-without-name",
        {"template": template(operators=[step(name="")])},
        ValueError,
        ["operators[0].name"],
    ),
    (
        "step-without-action",
        {"template": template(operators=[{"name": "x"}])},
        ValueError,
        ["operators[0].operator"],
    ),
    (
        "duplicate-step-names",
        {"template": template(operators=[step(), step()])},
        ValueError,
        ["operators[1].name", "stop"],
    ),
    (
        "link-to-unknown-step",
        {"template": two_steps(linear=False, links=[{"src": "a", "dst": "zz"}])},
        ValueError,
        ["links[0].dst", "zz"],
    ),
    (
        "link-from-unknown-step",
        {"template": two_steps(linear=False, links=[{"src": "qq", "dst": "b"}])},
        ValueError,
        ["links[0].src", "qq"],
    ),
    (
        "cycle",
        {"template": two_steps(linear=False, links=[{"src": "a", "dst": "b"}, {"src": "b", "dst": "a"}])},
        ValueError,
        ["links", "cycle"],
    ),
    ("non-linear-without-links", {"template": two_steps(linear=False)}, ValueError, ["links", "linear"]),
    ("negative-step-retries", {"template": template(operators=[step(retries=-1)])}, ValueError, ["retries"]),
    ("negative-step-timeout", {"template": template(operators=[step(timeout=-5)])}, ValueError, ["timeout"]),
    (
        "negative-step-retry-interval",
        {"template": template(operators=[step(retryInterval=-1)])},
        ValueError,
        ["retryInterval"],
    ),
    ("negative-wait-timeout", {"template": TEMPLATE, "timeout": -1}, ValueError, ["timeout"]),
    ("zero-poll-interval", {"template": TEMPLATE, "poll_interval": 0}, ValueError, ["poll_interval"]),
    ("bad-on-paused", {"template": TEMPLATE, "on_paused": "maybe"}, ValueError, ["on_paused"]),
    (
        "properties-not-json-text",
        {"template": TEMPLATE, "properties": "{oops"},
        ValueError,
        ["properties", "JSON"],
    ),
    ("properties-not-object", {"template": TEMPLATE, "properties": [1, 2]}, TypeError, ["properties"]),
    (
        "properties-not-json-values",
        {"template": TEMPLATE, "properties": {"when": object()}},
        TypeError,
        ["properties"],
    ),
    ("tags-not-strings", {"template": TEMPLATE, "tags": {"team": 7}}, TypeError, ["tags", "team"]),
    ("description-not-text", {"template": TEMPLATE, "description": ["x"]}, TypeError, ["description"]),
    ("empty-conn-id", {"template": TEMPLATE, "oos_conn_id": ""}, ValueError, ["oos_conn_id"]),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"), [c[1:] for c in ARGUMENT_CASES], ids=[c[0] for c in ARGUMENT_CASES]
)
def test_bad_operator_argument_is_refused_before_any_call(
    oos_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    error: type[Exception],
    words: list[str],
) -> None:
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    monkeypatch.setenv(conn_env_name("oos_default"), oos_emulator.conn_json)
    with pytest.raises(error) as caught:
        # Templated fields are checked in execute() (after rendering), the rest in __init__: both
        # come before any API call.
        operator = OosCreateExecutionOperator(task_id="bad_input", **kwargs)
        operator.execute(context_for("bad_input"))
    assert_names(caught.value, words)
    assert_no_api_call(oos_emulator)
    record("bad input", argument_cases=1)


SENSOR_AND_TRIGGER_CASES: list[tuple[str, Callable[[], Any], type[Exception], list[str]]] = [
    ("sensor-empty-execution-id", lambda: sensor(execution_id="  "), ValueError, ["execution_id"]),
    ("sensor-execution-id-not-text", lambda: sensor(execution_id=123), ValueError, ["execution_id"]),
    (
        "sensor-bad-on-paused",
        lambda: sensor(execution_id="d-1", on_paused="later"),
        ValueError,
        ["on_paused"],
    ),
    ("sensor-empty-conn-id", lambda: sensor(execution_id="d-1", oos_conn_id=""), ValueError, ["oos_conn_id"]),
    ("trigger-negative-poll", lambda: trigger(poll_interval=-1), ValueError, ["poll_interval"]),
    ("trigger-bad-on-paused", lambda: trigger(on_paused="sometimes"), ValueError, ["on_paused"]),
    ("hook-empty-execution-id", lambda: hook_get(""), ValueError, ["execution_id"]),
    ("hook-bad-template-type", lambda: hook_get_template("t", "PUBLIC"), ValueError, ["template_type"]),
]


def sensor(**kwargs: Any) -> Any:
    from airflow_provider_oos.sensors.oos import OosExecutionSensor

    made = OosExecutionSensor(task_id="bad_sensor", **kwargs)
    return made.poke(context_for("bad_sensor"))


def trigger(**kwargs: Any) -> Any:
    from airflow_provider_oos.triggers.oos import OosExecutionTrigger

    return OosExecutionTrigger(execution_id="d-1", **kwargs)


def hook_get(execution_id: str) -> Any:
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook().get_execution(execution_id)


def hook_get_template(name: str, template_type: str) -> Any:
    from airflow_provider_oos.hooks.oos import OosHook

    return OosHook().get_template(name, template_type)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [c[1:] for c in SENSOR_AND_TRIGGER_CASES],
    ids=[c[0] for c in SENSOR_AND_TRIGGER_CASES],
)
def test_bad_sensor_trigger_hook_argument_is_refused_before_any_call(
    oos_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], Any],
    error: type[Exception],
    words: list[str],
) -> None:
    monkeypatch.setenv(conn_env_name("oos_default"), oos_emulator.conn_json)
    with pytest.raises(error) as caught:
        make()
    assert_names(caught.value, words)
    assert_no_api_call(oos_emulator)
    record("bad input", argument_cases=1)


# ---- hostile and broken answers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


def hostile_connection(monkeypatch: pytest.MonkeyPatch, server: HostileServer, **extras: Any) -> None:
    settings = {"scheme": "http", "max_retries": 0, "timeout": 1, **extras}
    conn = {"conn_type": "baidu_oos", "login": "ak", "password": "sk", "host": server.url, "extra": settings}
    monkeypatch.setenv(conn_env_name("oos_hostile"), json.dumps(conn))


# (id, mode, call, exception type, words the message must contain)
RESPONSE_CASES: list[tuple[str, str, str, type[Exception], list[str]]] = [
    ("html-from-a-proxy-502", "html-502", "get", OosApiError, ["non-JSON", "502"]),
    ("html-with-200", "html-200", "get", OosApiError, ["non-JSON", "Login required"]),
    ("truncated-json", "truncated-json", "get", OosApiError, ["truncated"]),
    ("empty-body", "empty-body", "get", OosApiError, ["empty body"]),
    ("json-array", "json-array", "get", OosApiError, ["envelope"]),
    ("success-false", "success-false", "create", OosApiError, ["template.operators[0].operator"]),
    ("missing-result", "missing-result", "get", OosNotFoundError, ["d-x", "not found"]),
    ("result-not-object", "result-not-object", "get", OosApiError, ["Execution"]),
    ("create-answer-without-id", "create-without-id", "create", OosApiError, ["id"]),
    ("state-not-text", "state-not-text", "get", OosApiError, ["state"]),
    ("tasks-not-a-list", "tasks-not-list", "get", OosApiError, ["tasks"]),
    ("bce-error-401", "bce-401", "get", OosAuthError, ["bad key", "InvalidAccessKeyId"]),
    ("envelope-404", "envelope-404", "get", OosNotFoundError, ["not found"]),
    ("throttled-429", "throttled-429", "get", OosThrottledError, ["429"]),
    ("fifty-mb-body", "fifty-mb", "get", OosApiError, ["truncated or invalid JSON"]),
    ("dropped-connection", "drop", "get", OosApiError, ["connection"]),
]


def call_hook(kind: str) -> Any:
    from airflow_provider_oos.hooks.oos import OosHook

    hook = OosHook(oos_conn_id="oos_hostile")
    if kind == "create":
        return hook.create_execution(TEMPLATE)
    return hook.get_execution("d-x")


@pytest.mark.parametrize(
    ("mode", "kind", "error", "words"), [c[1:] for c in RESPONSE_CASES], ids=[c[0] for c in RESPONSE_CASES]
)
def test_hostile_response_gives_a_clear_error(
    hostile: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    kind: str,
    error: type[Exception],
    words: list[str],
) -> None:
    hostile_connection(monkeypatch, hostile)
    hostile.mode = mode
    started = time.monotonic()
    with pytest.raises(error) as caught:
        call_hook(kind)
    assert_names(caught.value, words)
    # A hostile body never floods the message (or the log line built from it).
    assert len(str(caught.value)) < 2000, f"message of {len(str(caught.value))} characters"
    assert time.monotonic() - started < 30
    record("bad input", response_cases=1)


ASYNC_RESPONSE_CASES: list[tuple[str, type[Exception], list[str]]] = [
    ("html-502", OosApiError, ["non-JSON", "502"]),
    ("truncated-json", OosApiError, ["truncated"]),
    ("success-false", OosApiError, ["template.operators[0].operator"]),
    ("state-not-text", OosApiError, ["state"]),
]
# The slow-loris (sync and async) and unknown-state cases have a test each, below.
SINGLE_CASES = 3


@pytest.mark.parametrize(
    ("mode", "error", "words"), ASYNC_RESPONSE_CASES, ids=[c[0] for c in ASYNC_RESPONSE_CASES]
)
def test_hostile_response_async_hook(
    hostile: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[Exception],
    words: list[str],
) -> None:
    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.hooks.oos import OosAsyncHook

    hostile_connection(monkeypatch, hostile)
    hostile.mode = mode

    async def get() -> Any:
        try:
            return await OosAsyncHook(oos_conn_id="oos_hostile").get_execution("d-x")
        finally:
            await close_all_sessions()

    with pytest.raises(error) as caught:
        asyncio.run(get())
    assert_names(caught.value, words)
    record("bad input", response_cases=1)


def test_slow_loris_server_cannot_hang_the_hook(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers at once, then a byte every 0.2 s forever: each read is within the 1 s timeout, the
    answer never ends. The hook must give up on its own, with an error naming the call."""
    hostile_connection(monkeypatch, hostile)
    hostile.mode = "slow-loris"
    outcome: list[BaseException | Any] = []

    def call() -> None:
        try:
            outcome.append(call_hook("get"))
        except BaseException as err:
            outcome.append(err)

    started = time.monotonic()
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), (
        "the hook was still reading a slow-loris answer after 10 s (no total deadline)"
    )
    assert outcome and isinstance(outcome[0], OosApiError), outcome
    assert_names(outcome[0], ["GET", "/v2/execution"])
    record("bad input", response_cases=1, slow_loris_seconds=round(time.monotonic() - started, 1))


def test_slow_loris_server_cannot_hang_the_async_hook(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_oos.client.session_pool import close_all_sessions
    from airflow_provider_oos.hooks.oos import OosAsyncHook

    hostile_connection(monkeypatch, hostile)
    hostile.mode = "slow-loris"

    async def get() -> Any:
        try:
            return await asyncio.wait_for(OosAsyncHook(oos_conn_id="oos_hostile").get_execution("d-x"), 10)
        finally:
            await close_all_sessions()

    with pytest.raises(OosApiError) as caught:
        asyncio.run(get())
    assert_names(caught.value, ["GET", "/v2/execution"])
    record("bad input", response_cases=1)


def test_unknown_state_is_waited_on_then_times_out_naming_it(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown state is not final: the operator keeps waiting (logging the state once) and its
    own timeout ends the wait with the last state named."""
    from airflow_provider_oos.operators.oos import OosCreateExecutionOperator

    hostile_connection(monkeypatch, hostile)
    hostile.mode = "unknown-state"  # create answers {"id": "d-hostile", ...}, every GET says EXPLODED
    operator = OosCreateExecutionOperator(
        task_id="unknown_state", template=TEMPLATE, oos_conn_id="oos_hostile", poll_interval=0.2, timeout=1.0
    )
    with pytest.raises(OosExecutionTimeoutError) as caught:
        operator.execute(context_for("unknown_state"))
    assert_names(caught.value, ["d-hostile", "EXPLODED"])
    record("bad input", response_cases=1)


# ---- helpers ----------------------------------------------------------------------------------


def assert_names(error: BaseException, words: list[str]) -> None:
    message = str(error)
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{type(error).__name__} message does not name {missing}: {message!r}"


def assert_no_api_call(emulator: Any) -> None:
    stats = emulator.admin("GET", "stats")
    assert stats["requests"] == {}, f"a local mistake reached the API: {stats['requests']}"
    assert stats["createExecutionCalls"] == 0


def test_catalogue_has_at_least_forty_cases() -> None:
    total = (
        len(CONNECTION_CASES)
        + len(ARGUMENT_CASES)
        + len(SENSOR_AND_TRIGGER_CASES)
        + len(RESPONSE_CASES)
        + len(ASYNC_RESPONSE_CASES)
        + SINGLE_CASES
    )
    assert total >= 40
    record("bad input", catalogue_size=total)
