"""Connection parsing: every accepted form, and a clear message naming the field otherwise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.sdk import BaseHook

from airflow_provider_oos.client.connection import parse_connection
from airflow_provider_oos.hooks.oos import OosHook
from tests.support.oos_server import SECRET_KEY, SESSION_TOKEN

pytestmark = pytest.mark.usefixtures("no_secret_in_logs")


@dataclass
class Conn:
    """Just the attributes parse_connection reads (it is pure: any such object works)."""

    host: str | None = None
    login: str | None = "ak"
    password: str | None = SECRET_KEY
    port: int | None = None
    schema: str | None = None
    extra: Any = None


@pytest.mark.parametrize(
    ("conn", "endpoint"),
    [
        (Conn(host="oos.bj.baidubce.com"), "https://oos.bj.baidubce.com"),
        (Conn(host="oos.bj.baidubce.com", extra={"scheme": "http"}), "http://oos.bj.baidubce.com"),
        (Conn(host="http://127.0.0.1:8765"), "http://127.0.0.1:8765"),
        (Conn(host="http://127.0.0.1:8765/"), "http://127.0.0.1:8765"),
        (Conn(host="HTTPS://Oos.Example.com"), "https://oos.example.com"),
        (Conn(host="127.0.0.1", port=8765, extra={"scheme": "http"}), "http://127.0.0.1:8765"),
        (Conn(host="127.0.0.1:8765", extra='{"scheme": "http"}'), "http://127.0.0.1:8765"),
        (Conn(host="http://127.0.0.1", port=9000), "http://127.0.0.1:9000"),
        # Issue 11: the UI form saves "scheme": "https" by default; a full URL's scheme wins.
        (Conn(host="http://127.0.0.1:8765", extra={"scheme": "https"}), "http://127.0.0.1:8765"),
        (Conn(host="https://oos.example.com", extra={"scheme": "http"}), "https://oos.example.com"),
        (Conn(host="http://[::1]:8080"), "http://[::1]:8080"),
        (Conn(host=None), "https://oos.bj.baidubce.com"),
        (Conn(host="", extra={"region": "gz"}), "https://oos.gz.baidubce.com"),
        (Conn(host=" ", extra={"region": "su", "scheme": "http"}), "http://oos.su.baidubce.com"),
    ],
)
def test_endpoint_forms(conn: Conn, endpoint: str) -> None:
    assert parse_connection(conn).endpoint == endpoint


def test_defaults_and_all_extras() -> None:
    config = parse_connection(Conn(host="oos.bj.baidubce.com"))
    assert (config.region, config.timeout, config.max_retries) == ("bj", 30.0, 5)
    assert (config.retry_wait_min, config.retry_wait_max) == (1.0, 30.0)
    assert config.credentials.session_token is None
    assert config.console_url("d-1").startswith("https://console.bce.baidu.com/")

    extras = {
        "region": "gz",
        "scheme": "https",
        "session_token": SESSION_TOKEN,
        "console_url": "https://c.example/{region}/{execution_id}",
        "timeout": "12.5",
        "max_retries": 2,
        "retry_wait_min": 0.5,
        "retry_wait_max": "4",
    }
    config = parse_connection(Conn(extra=json.dumps(extras)))
    assert config.endpoint == "https://oos.gz.baidubce.com"
    assert config.credentials.session_token == SESSION_TOKEN
    assert config.console_url("d-9") == "https://c.example/gz/d-9"
    assert (config.timeout, config.max_retries, config.retry_wait_min, config.retry_wait_max) == (
        12.5,
        2,
        0.5,
        4.0,
    )
    assert config.api_url == "https://oos.gz.baidubce.com/api/logic/oos"


def test_ui_form_spellings_are_accepted() -> None:
    # Older UIs store form fields prefixed and untouched ones as empty strings.
    config = parse_connection(
        Conn(extra={"extra__baidu_oos__region": "gz", "extra__baidu_oos__session_token": "", "timeout": None})
    )
    assert config.region == "gz" and config.credentials.session_token is None and config.timeout == 30.0


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (Conn(login=None), "login is empty"),
        (Conn(login="  "), "login is empty"),
        (Conn(password=""), "password is empty"),
        (Conn(extra={"regoin": "bj", "tiemout": 3}), "unknown extra field(s) 'regoin', 'tiemout'"),
        (Conn(extra="{not json"), "extra is not valid JSON"),
        (Conn(extra="[1, 2]"), "extra must be a JSON object"),
        (Conn(extra={"scheme": "ftp"}), "extra 'scheme' must be 'http' or 'https'"),
        (Conn(host="ftp://h"), "scheme must be http or https"),
        (Conn(extra={"base_path": "api/logic/oos"}), "extra 'base_path' 'api/logic/oos' is not a URL path"),
        (Conn(extra={"base_path": "/api?x=1"}), "extra 'base_path'"),
        (Conn(extra={"base_path": 5}), "extra 'base_path' must be a string"),
        (Conn(host="http://h:1", port=2), "host says port 1 but port says 2"),
        (Conn(host="h", port="eighty"), "port must be a number"),
        (Conn(host="h", port=70000), "out of range"),
        (Conn(host="https://h/api/logic/oos"), "has a path or query"),
        (Conn(host="https://user:pw@h"), "must not carry credentials"),
        (Conn(host="h/x"), "neither a bare host name nor a full URL"),
        (Conn(extra={"region": "Bei Jing"}), "extra 'region'"),
        (Conn(extra={"timeout": "soon"}), "extra 'timeout' must be a number, got 'soon'"),
        (Conn(extra={"timeout": 0}), "extra 'timeout' must be at least"),
        (Conn(extra={"max_retries": 1.5}), "extra 'max_retries' must be a whole number"),
        (Conn(extra={"max_retries": -1}), "extra 'max_retries' must be at least 0"),
        (Conn(extra={"max_retries": True}), "extra 'max_retries' must be a whole number"),
        (Conn(extra={"retry_wait_min": 5, "retry_wait_max": 1}), "'retry_wait_max' (1) is below"),
        (Conn(extra={"console_url": "https://c/{id}"}), "extra 'console_url'"),
        (Conn(extra={"session_token": 123}), "extra 'session_token' must be a string"),
    ],
)
def test_bad_connections_name_the_field(conn: Conn, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_connection(conn)
    assert message in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_repr_of_config_hides_secrets() -> None:
    config = parse_connection(Conn(extra={"session_token": SESSION_TOKEN}))
    for text in (repr(config), str(config), repr(config.credentials)):
        assert SECRET_KEY not in text and SESSION_TOKEN not in text
    assert "access_key_id='ak'" in repr(config)


def test_airflow_uri_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OOS_URI", "baidu-oos://AK:S%2FK@127.0.0.1:8765/?scheme=http&timeout=5")
    config = OosHook(oos_conn_id="oos_uri").config
    assert config.endpoint == "http://127.0.0.1:8765"
    assert config.credentials.access_key_id == "AK" and config.credentials.secret_access_key == "S/K"
    assert config.timeout == 5.0


def test_airflow_json_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OOS_JSON",
        json.dumps(
            {
                "conn_type": "baidu_oos",
                "login": "AK",
                "password": SECRET_KEY,
                "host": "oos.bj.baidubce.com",
                "extra": {"region": "bj", "session_token": SESSION_TOKEN},
            }
        ),
    )
    config = parse_connection(BaseHook.get_connection("oos_json"))
    assert config.endpoint == "https://oos.bj.baidubce.com"
    assert config.credentials.session_token == SESSION_TOKEN


def test_connection_errors_never_show_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow 3.3's Connection repr shows the password: it must not leak through our errors.
    monkeypatch.setenv(
        "AIRFLOW_CONN_OOS_LEAK",
        json.dumps({"conn_type": "baidu_oos", "login": "AK", "password": SECRET_KEY, "extra": {"bogus": 1}}),
    )
    with pytest.raises(ValueError) as caught:
        _ = OosHook(oos_conn_id="oos_leak").config
    assert "'bogus'" in str(caught.value) and SECRET_KEY not in str(caught.value)


def test_proxy_environment_is_read_once_and_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session stops rescanning os.environ per request but keeps the proxy settings it had."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    conn = {"conn_type": "baidu_oos", "login": "ak", "password": "sk", "host": "oos.bj.baidubce.com"}
    monkeypatch.setenv("AIRFLOW_CONN_OOS_PROXIED", json.dumps(conn))
    proxied = OosHook(oos_conn_id="oos_proxied").session
    assert not proxied.trust_env
    assert proxied.proxies.get("https") == "http://proxy.internal:3128"

    local = {**conn, "host": "http://127.0.0.1:8765"}
    monkeypatch.setenv("AIRFLOW_CONN_OOS_LOCAL", json.dumps(local))
    assert "http" not in OosHook(oos_conn_id="oos_local").session.proxies  # NO_PROXY applies


@pytest.mark.parametrize(
    ("extra", "base_path"),
    [
        (None, "/api/logic/oos"),
        ({"base_path": None}, "/api/logic/oos"),
        ({"base_path": "/api/logic/oos"}, "/api/logic/oos"),
        ({"base_path": "/api/logic/oos/"}, "/api/logic/oos"),
        ({"base_path": ""}, ""),
        ({"base_path": "/"}, ""),
        ({"base_path": " /gateway/oos "}, "/gateway/oos"),
        # An untouched field of an older UI form (prefixed, empty) keeps the default.
        ({"extra__baidu_oos__base_path": ""}, "/api/logic/oos"),
    ],
)
def test_base_path_extra(extra: Any, base_path: str) -> None:
    config = parse_connection(Conn(host="http://127.0.0.1:8765", extra=extra))
    assert config.base_path == base_path
    assert config.api_url == "http://127.0.0.1:8765" + base_path


def test_scheme_help_text_matches_the_code() -> None:
    """The form says the scheme extra only applies to a bare host name: the code agrees."""
    from airflow_provider_oos.client.connection_form import CONN_FIELDS

    assert "bare host name" in CONN_FIELDS["scheme"]["description"]
    assert "own scheme" in CONN_FIELDS["scheme"]["description"]
    for saved_by_the_form in ("https", "http"):
        url = parse_connection(Conn(host="http://127.0.0.1:8765", extra={"scheme": saved_by_the_form}))
        assert url.endpoint == "http://127.0.0.1:8765"
        bare = parse_connection(Conn(host="127.0.0.1:8765", extra={"scheme": saved_by_the_form}))
        assert bare.endpoint == f"{saved_by_the_form}://127.0.0.1:8765"
    described = CONN_FIELDS["base_path"]["description"]
    assert "/api/logic/oos" in described and '""' in described and "OpenAPI" in described


def test_a_connection_saved_with_the_form_defaults_makes_airflow_warn_about_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11, item 10b: Airflow masks every string extra of a connection it loads and warns
    once per process about any shorter than 5 characters, sensitive or not. The form's defaults
    are what the UI saves: none of them may be that short (the region's default lives in the code)."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker

    from airflow_provider_oos.client.connection_form import CONN_FIELDS

    defaults = {
        name: spec["schema"]["default"] for name, spec in CONN_FIELDS.items() if "default" in spec["schema"]
    }
    assert {"scheme", "base_path"} <= set(defaults)
    conn = {"conn_type": "baidu_oos", "login": "ak", "password": SECRET_KEY, "extra": defaults}
    monkeypatch.setenv("AIRFLOW_CONN_OOS_FORM_DEFAULTS", json.dumps(conn))
    monkeypatch.setattr(SecretsMasker, "_has_warned_short_secret", False)
    config = parse_connection(BaseHook.get_connection("oos_form_defaults"))  # Airflow masks the extras here
    assert not SecretsMasker._has_warned_short_secret
    assert config.region == "bj" and config.endpoint == "https://oos.bj.baidubce.com"
