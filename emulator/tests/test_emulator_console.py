"""The emulator's read-only HTML page per execution (issue 11): content, escaping, no signature."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser

import pytest
import requests
from emulator_client import Oos, shell, step, template
from oos_emulator.process import EmulatorHandle


class Text(HTMLParser):
    """The page's visible text and its tags (to prove nothing user-given became markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Text:
    parser = Text()
    parser.feed(page)
    return parser


@pytest.fixture
def oos(oos_emulator: EmulatorHandle) -> Oos:
    oos_emulator.seed_instances(["i-a", "i-b"])
    return Oos(oos_emulator)


def console(emulator: EmulatorHandle, execution_id: str, locale: str = "en-us") -> requests.Response:
    url = emulator.console_url.format(execution_id=execution_id) + f"?locale={locale}"
    return requests.get(url, timeout=10)  # no signature: a browser opens it


def test_the_page_shows_steps_states_reasons_logs_and_outputs(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    body = template(
        shell("patch", "yum update\n# emulator: output version=1.2"),
        step("stop", "BCE::BCC::StopInstance", loops=[{"instanceId": "i-a"}, {"instanceId": "i-ghost"}]),
        step("after"),
        name="maintenance",
    )
    created = {"template": body, "description": "weekly", "tags": [{"tagKey": "team", "tagValue": "ops"}]}
    execution_id = oos.ok("POST", "/v2/execution", body=created)["id"]
    execution = oos.wait(execution_id)
    assert execution["state"] == "FAILED"

    response = console(oos_emulator, execution_id)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["x-bce-request-id"]
    text = " ".join(parsed(response.text).text)
    for expected in (
        f"OOS execution {execution_id}",
        "maintenance",
        "weekly",
        "team=ops",
        "Step patch",
        "Step stop",
        "Step after",
        "UPSTREAM_FAILED",
        "Instance.NotFound",
        execution["reason"],
        execution["tasks"][1]["reason"],
        '"version": "1.2"',
        "Loop iterations",
        '"instanceId": "i-ghost"',
        "yum update",  # a log line of the shell step
    ):
        assert expected in text, expected
    for task in execution["tasks"]:
        for entry in task["log"]:
            assert entry["timestamp"] in text and entry["msg"].splitlines()[0] in text
    assert text.count("SUCCESS") >= 2 and text.count("FAILED") >= 3
    # Without `?locale=en-us` the page shows the reasons as the API answers by default: in Chinese.
    default = " ".join(parsed(console(oos_emulator, execution_id, "zh-cn").text).text)
    assert "上游步骤失败" in default and execution["tasks"][2]["reason"] not in default


def test_everything_user_given_is_escaped(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    evil = '<script>alert("x")</script>&<b>'
    script = f"echo '{evil}'\n# emulator: output note={evil}\n# emulator: exit 2"
    body = template(shell(evil, script), name=evil)
    created = {"template": body, "description": evil, "tags": [{"tagKey": evil, "tagValue": evil}]}
    execution_id = oos.ok("POST", "/v2/execution", body=created)["id"]
    oos.wait(execution_id)
    page = console(oos_emulator, execution_id).text
    assert evil not in page and "<script>" not in page and "<b>" not in page
    assert html.escape(evil) in page
    tree = parsed(page)
    assert "script" not in tree.tags and "b" not in tree.tags
    text = "".join(tree.text)
    assert f"Step {evil}" in text and f"{evil}={evil}" in text and evil in text
    assert f'"note": {json.dumps(evil, ensure_ascii=False)}' in text  # the outputs, as JSON


def test_unknown_execution_and_the_index(oos: Oos, oos_emulator: EmulatorHandle) -> None:
    missing = requests.get(f"{oos_emulator.url}/console/execution/%3Cimg%20src%3Dx%3E", timeout=10)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<img" not in missing.text and "&lt;img src=x&gt;" in missing.text
    first, second = oos.create(template(step("a"))), oos.create(template(step("b"), name="other"))
    index = requests.get(f"{oos_emulator.url}/console/", timeout=10)
    assert index.status_code == 200
    assert index.text.index(second) < index.text.index(first)  # newest first
    assert f'href="/console/execution/{first}"' in index.text
    assert console(oos_emulator, first).status_code == 200
    stats = oos_emulator.admin("GET", "stats")["requests"]
    assert not any("/console/" in key for key in stats)  # not an OOS call: not counted, not signed
