"""The page's HTML: every value OOS sends is escaped; durations and the failing iteration."""

from __future__ import annotations

from airflow_provider_oos.client.models import Execution, Task
from airflow_provider_oos.plugins.render import (
    TaskInstanceRef,
    duration_text,
    render_execution,
    render_message,
)

EVIL = '<img src=x onerror="alert(1)">'
TI = TaskInstanceRef("dag<1>", "run&1", 'task"1', -1)


def evil_execution() -> Execution:
    return Execution.model_validate(
        {
            "id": "d-evil",
            "state": "FAILED",
            "reason": EVIL,
            "errorCode": EVIL,
            "template": {"name": EVIL},
            "tasks": [
                {
                    "id": "t-1",
                    "state": "FAILED",
                    "reason": EVIL,
                    "errorCode": EVIL,
                    "createdTimestamp": 1000,
                    "finishedTimestamp": 126000,
                    "operator": {"name": EVIL, "operator": EVIL},
                    "outputContext": {EVIL: EVIL},
                    "log": [{"timestamp": "1", "msg": EVIL}],
                    "children": [
                        {
                            "id": "t-2",
                            "loopIndex": 0,
                            "state": "FAILED",
                            "reason": EVIL,
                            "errorCode": EVIL,
                            "context": {"instanceId": EVIL},
                            "log": [{"timestamp": "2", "msg": EVIL}],
                        }
                    ],
                }
            ],
        }
    )


def test_every_value_is_escaped() -> None:
    page = render_execution(TI, evil_execution(), 'javascript:alert("x")')
    assert "<img" not in page and 'onerror="' not in page
    assert page.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") >= 10
    assert "dag&lt;1&gt; / run&amp;1 / task&quot;1" in page
    assert "javascript:" not in page  # only http(s) console links are linked


def test_failing_iteration_and_duration() -> None:
    page = render_execution(TI, evil_execution(), "https://console.example/d-evil")
    assert "<h2>Failing iteration</h2>" in page and "loopIndex 0" in page
    assert "2 min 5 s" in page
    assert 'href="https://console.example/d-evil"' in page


def test_message_page_is_escaped() -> None:
    page = render_message(TI, EVIL, EVIL)
    assert "<img" not in page


def test_duration_text() -> None:
    assert duration_text(Task.model_validate({"createdTimestamp": 0, "finishedTimestamp": 1500})) == "1.5 s"
    assert duration_text(Task.model_validate({"createdTimestamp": 0})) == "running"
    assert duration_text(Task.model_validate({})) == ""
    assert (
        duration_text(Task.model_validate({"createdTimestamp": 0, "finishedTimestamp": 7_380_000}))
        == "2 h 3 min"
    )
