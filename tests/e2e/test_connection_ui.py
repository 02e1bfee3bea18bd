"""The `baidu_oos` connection in the Airflow UI: the form, saving it, and the Test button."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_oos.client.connection_form import CONN_FIELDS
from scripts.deploy.config import ACCESS_KEY, SECRET_KEY, State
from tests.e2e.conftest import Rest, Shots

pytestmark = pytest.mark.e2e

FORM_CONN = "oos_e2e_form"
WRONG_KEY_CONN = "oos_e2e_wrong_key"


def _delete_connection(rest: Rest, conn_id: str) -> None:
    try:
        rest("DELETE", f"connections/{conn_id}")
    except RuntimeError as error:
        assert "HTTP 404" in str(error), error


def _open_add_form(page: Any, base_url: str) -> Any:
    page.goto(f"{base_url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(FORM_CONN)
    dialog.get_by_role("combobox").first.fill("Baidu")
    page.get_by_role("option", name="Baidu OOS").click()
    dialog.get_by_label("Endpoint", exact=True).wait_for()
    return dialog


def _test_button(page: Any, base_url: str, conn_id: str) -> dict[str, Any]:
    """Press the connection's Test button in the list; return what the API answered the UI."""
    page.goto(f"{base_url}/connections")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))
    with page.expect_response("**/api/v2/connections/test") as answer:
        row.get_by_role("button", name="Test Connection").click()
    response = answer.value
    assert response.status == 200, f"Test Connection answered {response.status}: {response.text()}"
    result: dict[str, Any] = response.json()
    return result


def test_form_relabels_fields_explains_extras_and_saves_a_working_connection(
    page: Any, deployment: State, rest: Rest, shot: Shots
) -> None:
    _delete_connection(rest, FORM_CONN)
    dialog = _open_add_form(page, deployment.api_url)
    shot(page, "add-connection-form")

    # Standard fields under the provider's names; the secret is a password input; no Schema field.
    for label in ("Endpoint", "Access Key ID", "Secret Access Key", "Port"):
        assert dialog.get_by_label(label, exact=True).is_visible(), label
    assert dialog.get_by_label("Secret Access Key", exact=True).get_attribute("type") == "password"
    assert dialog.locator("input[name=schema]").count() == 0
    placeholder = dialog.get_by_label("Endpoint", exact=True).get_attribute("placeholder")
    assert "http://127.0.0.1:8765" in placeholder

    # The placeholder's own example: a full URL (its http:// wins over the default Scheme https).
    dialog.get_by_label("Endpoint", exact=True).fill(deployment.emulator_url)
    dialog.get_by_label("Access Key ID", exact=True).fill(ACCESS_KEY)
    dialog.get_by_label("Secret Access Key", exact=True).fill(SECRET_KEY)
    dialog.get_by_label("Port", exact=True).fill(str(deployment.emulator_port))

    # Every extra field with its label and help text (the accordion folds the standard fields).
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    dialog.locator("#element_console_url").wait_for()
    shot(page, "extra-fields")
    text = dialog.inner_text()
    for name, spec in CONN_FIELDS.items():
        assert spec["label"] in text, name
        assert spec["description"] in text, name
    assert dialog.locator("#element_session_token").get_attribute("type") == "password"

    # The Scheme dropdown offers https and http, and no literal "null".
    scheme = dialog.get_by_role("combobox").nth(1)
    scheme.click()
    assert page.get_by_role("option").all_inner_texts() == ["https", "http"]
    shot(page, "scheme-choices")
    page.get_by_role("option", name="https", exact=True).click()  # keep the default

    dialog.locator("#element_console_url").fill(deployment.console_url)
    shot(page, "filled")
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections") and r.request.method == "POST"):
        dialog.get_by_role("button", name="Save").click()
    page.get_by_role("cell", name=FORM_CONN, exact=True).wait_for()
    shot(page, "saved")

    stored = rest("GET", f"connections/{FORM_CONN}")
    assert (stored["conn_type"], stored["host"], stored["port"], stored["login"]) == (
        "baidu_oos",
        deployment.emulator_url,
        deployment.emulator_port,
        ACCESS_KEY,
    )
    assert json.loads(stored["extra"])["console_url"] == deployment.console_url

    # The connection saved from the UI passes the UI's Test button.
    result = _test_button(page, deployment.api_url, FORM_CONN)
    page.get_by_text("Test Connection Successful").wait_for()
    shot(page, "tested")
    assert result["status"] is True, result["message"]
    assert f"Connected to {deployment.emulator_url}" in result["message"]
    assert f"as {ACCESS_KEY}" in result["message"]


def test_test_button_passes_a_good_connection_and_names_a_wrong_key(
    page: Any, deployment: State, rest: Rest, shot: Shots
) -> None:
    result = _test_button(page, deployment.api_url, "oos_default")
    page.get_by_text("Test Connection Successful").wait_for()
    page.get_by_text(result["message"]).wait_for()  # the provider's own message is shown
    shot(page, "oos_default-ok")
    assert result["status"] is True, result["message"]

    _delete_connection(rest, WRONG_KEY_CONN)
    rest(
        "POST",
        "connections",
        json={
            "connection_id": WRONG_KEY_CONN,
            "conn_type": "baidu_oos",
            "host": "127.0.0.1",
            "port": deployment.emulator_port,
            "login": ACCESS_KEY,
            "password": "not-the-secret-key",
            "extra": json.dumps({"scheme": "http"}),
        },
    )
    result = _test_button(page, deployment.api_url, WRONG_KEY_CONN)
    page.get_by_text("Test Connection Failed").wait_for()
    shot(page, "wrong-key")
    assert result["status"] is False
    assert "Secret Access Key" in result["message"]
    assert "SignatureDoesNotMatch" in result["message"]
    assert "not-the-secret-key" not in result["message"]
    page.get_by_text("SignatureDoesNotMatch", exact=False).first.wait_for()
