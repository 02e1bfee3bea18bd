"""Provider metadata: valid against Airflow's schema, listed by the `airflow providers` CLI,
and the connection form (provider info and hook methods) says the same thing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oos import __version__
from airflow_provider_oos.get_provider_info import get_provider_info
from airflow_provider_oos.hooks.oos import OosHook


def _airflow(*args: str) -> Any:
    airflow = Path(sys.executable).with_name("airflow")
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run(
        [str(airflow), *args, "-o", "json"], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("[") :])


def test_provider_info_matches_airflows_schema() -> None:
    import jsonschema
    from airflow import providers_manager

    schema_path = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    jsonschema.validate(get_provider_info(), json.loads(schema_path.read_text()))


def test_provider_info_content() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-oos"
    assert info["versions"] == [__version__]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == OosHook.conn_type == "baidu_oos"
    assert conn["hook-class-name"] == "airflow_provider_oos.hooks.oos.OosHook"
    assert conn["conn-fields"]["session_token"]["schema"]["format"] == "password"
    assert conn["ui-field-behaviour"]["relabeling"] == {
        "login": "Access Key ID",
        "password": "Secret Access Key",
        "host": "Endpoint",
    }
    assert set(conn["ui-field-behaviour"]["hidden-fields"]) == {"schema"}
    # Issue 11: Airflow 3.3's Test button posts a stored connection's port (0 when unset) and the
    # API then refuses the test, so users must be able to set the port; no literal "null" Scheme.
    assert "port" in conn["ui-field-behaviour"]["placeholders"]
    assert conn["conn-fields"]["scheme"]["schema"]["enum"] == ["https", "http"]
    assert info["extra-links"] == ["airflow_provider_oos.links.oos.OosExecutionLink"]
    # Every module named in the metadata exists and imports.
    import importlib

    for section in ("hooks", "operators", "sensors", "triggers"):
        for module in info[section][0]["python-modules"]:
            importlib.import_module(module)
    module, _, name = info["extra-links"][0].rpartition(".")
    assert getattr(importlib.import_module(module), name).name == "OOS Execution"


def test_airflow_cli_lists_the_provider() -> None:
    providers = _airflow("providers", "get", "airflow-provider-oos")
    assert providers == [{"Provider": "airflow-provider-oos", "Version": __version__}]


def test_providers_manager_registers_connection_type_and_hook() -> None:
    try:  # Airflow >= 3.2 moved hook discovery for task code into the task SDK
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:
        from airflow.providers_manager import ProvidersManager as Manager

    manager = Manager()
    assert manager.providers["airflow-provider-oos"].version == __version__
    hook = manager.hooks["baidu_oos"]
    assert hook is not None
    assert (hook.hook_class_name, hook.connection_id_attribute_name, hook.hook_name) == (
        "airflow_provider_oos.hooks.oos.OosHook",
        "oos_conn_id",
        "Baidu OOS",
    )
    assert hook.package_name == "airflow-provider-oos"


def test_ui_field_behaviour_matches_provider_info() -> None:
    behaviour = OosHook.get_ui_field_behaviour()
    info = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    assert behaviour == {
        "hidden_fields": info["hidden-fields"],
        "relabeling": info["relabeling"],
        "placeholders": info["placeholders"],
    }
    assert behaviour["relabeling"]["login"] == "Access Key ID"


def test_connection_form_widgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The form libraries are not installed here (workers never need them): stand-ins record
    what the hook builds, and the module imports without them."""

    class Field:
        def __init__(self, label: str, widget: object = None) -> None:
            self.label, self.widget = label, widget

    class StringField(Field):
        pass

    class PasswordField(Field):
        pass

    fake = {
        "wtforms": types.SimpleNamespace(StringField=StringField, PasswordField=PasswordField),
        "flask_babel": types.SimpleNamespace(lazy_gettext=lambda text: text),
        "flask_appbuilder": types.SimpleNamespace(),
        "flask_appbuilder.fieldwidgets": types.SimpleNamespace(
            BS3TextFieldWidget=lambda: "text", BS3PasswordFieldWidget=lambda: "password"
        ),
    }
    for name, module in fake.items():
        monkeypatch.setitem(sys.modules, name, module)
    widgets = OosHook.get_connection_form_widgets()
    conn_fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert list(widgets) == list(conn_fields)
    assert (
        isinstance(widgets["session_token"], PasswordField) and widgets["session_token"].widget == "password"
    )
    others = [name for name in widgets if name != "session_token"]
    assert all(type(widgets[name]) is StringField for name in others)
    assert {name: widgets[name].label for name in widgets} == {
        name: spec["label"] for name, spec in conn_fields.items()
    }
