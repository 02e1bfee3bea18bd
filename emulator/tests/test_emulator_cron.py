"""The admin start of a cron run: an execution as OOS's own scheduler would start it (trigger CRON).

Over real HTTP: the run is started through `/emulator/cron-executions`, then read and listed through
the signed OOS API, where the published `trigger` and `cronExecutionName` filters find it.
"""

from __future__ import annotations

from typing import Any

import pytest
from emulator_client import Oos, shell, template
from oos_emulator.process import EmulatorHandle


@pytest.fixture
def oos(oos_emulator: EmulatorHandle) -> Oos:
    return Oos(oos_emulator)


def _listed(oos: Oos, **filters: Any) -> list[str]:
    body = {"pageNo": 1, "pageSize": 100, **filters}
    return [e["id"] for e in oos.ok("POST", "/v2/execution/list", body=body)["executions"]]


def test_a_cron_run_of_a_stored_template_carries_trigger_cron_and_its_cron_execution(
    oos: Oos, oos_emulator: EmulatorHandle
) -> None:
    oos.ok("POST", "/v2/template", body=template(shell("patch", "echo patch"), name="nightly"))
    manual = oos.create(template(shell("patch", "echo by hand"), name="nightly"))
    started = oos_emulator.admin(
        "POST", "cron-executions", {"templateName": "nightly", "cronExecutionName": "nightly-cron"}
    )
    assert started["trigger"] == "CRON" and started["cronExecution"] == {"name": "nightly-cron"}
    cron = started["id"]
    execution = oos.wait(cron)
    assert execution["state"] == "SUCCESS" and execution["template"]["name"] == "nightly"
    assert execution["trigger"] == "CRON" and execution["cronExecution"] == {"name": "nightly-cron"}
    assert oos.wait(manual)["trigger"] == "MANUAL" and "cronExecution" not in oos.get(manual)
    assert _listed(oos, trigger="CRON") == [cron]
    assert _listed(oos, cronExecutionName="nightly-cron") == [cron]
    assert _listed(oos, trigger="MANUAL") == [manual]
    assert oos_emulator.create_calls() == 1  # a cron run is not a create-execution call


def test_a_cron_run_of_an_inline_template_and_the_refusals(oos_emulator: EmulatorHandle) -> None:
    inline = template(shell("patch", "echo inline"), name="inline-nightly")
    started = oos_emulator.admin("POST", "cron-executions", {"template": inline, "cronExecutionName": "c1"})
    assert started["trigger"] == "CRON"
    for body, says in [
        ({"templateName": "inline-nightly"}, "cronExecutionName"),
        ({"templateName": "missing", "cronExecutionName": "c1"}, "HTTP 404"),
        ({"cronExecutionName": "c1"}, "templateName"),
        ({"template": {"name": "x"}, "cronExecutionName": "c1"}, "HTTP 400"),
    ]:
        with pytest.raises(RuntimeError, match=says):
            oos_emulator.admin("POST", "cron-executions", body)
    assert [e["templateName"] for e in oos_emulator.executions()] == ["inline-nightly"]  # refusals start none
