"""Browser end-to-end tests against the deployment `make airflow` started (run with `make e2e`).

Playwright drives Debian's Chromium (/usr/bin/chromium, installed by the Makefile); nothing
downloads a browser. Every step leaves a screenshot in `$E2E_ARTIFACTS` (default
`.artifacts/e2e/`), and a failing test one more of the page as it was.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.deploy.config import PASSWORD, REPO, USERNAME, State
from scripts.deploy.services import api, api_token, health, is_alive

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", REPO / ".artifacts" / "e2e"))


class Rest:
    """The deployment's REST API with the admin's token (what a script or CI job would use)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.token = api_token(state)

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        return api(self.state, method, path, self.token, **kwargs)

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        url = f"{self.state.emulator_url}/emulator/{path}"
        response = requests.request(method, url, json=body, timeout=30)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def deployment() -> State:
    state = State.load()
    if state is None or not state.pids or not all(is_alive(pid) for pid in state.pids.values()):
        pytest.fail("no running deployment: start it with `make airflow` (make e2e runs against it)")
    parts = health(state)
    assert parts and all(value == "healthy" for value in parts.values()), parts
    return state


@pytest.fixture(scope="session")
def rest(deployment: State) -> Rest:
    return Rest(deployment)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make e2e` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)


class Shots:
    """Numbered screenshots of one test: `.artifacts/e2e/<test>/<nn>-<step>.png`."""

    def __init__(self, test_name: str) -> None:
        self.folder = ARTIFACTS / _safe_name(test_name)
        shutil.rmtree(self.folder, ignore_errors=True)  # no stale shots of an earlier run
        self.folder.mkdir(parents=True)
        self.count = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{_safe_name(step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


@contextmanager
def signed_in_page(browser: Any, state: State) -> Iterator[Any]:
    """A new browser context signed in through the simple auth manager's form, as a person would."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(state.api_url + "/")
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(state.api_url + "/")
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, deployment: State, shot: Shots, request: pytest.FixtureRequest) -> Iterator[Any]:
    with signed_in_page(browser, deployment) as page:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot(page, "FAILED")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
