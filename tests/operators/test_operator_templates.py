"""Template upkeep against the emulator: upsert is idempotent by name, delete by id or by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.exceptions import OosNotFoundError
from airflow_provider_oos.operators.oos import OosDeleteTemplateOperator, OosUpsertTemplateOperator
from tests.support.oos_task_helpers import shell, task_context, template

V1 = template("backup-nightly", shell("dump", "pg_dump app"))
V2 = template("backup-nightly", shell("dump", "pg_dump app"), shell("upload", "aws s3 cp dump s3://b"))


def writes(emulator: EmulatorHandle) -> dict[str, int]:
    requests = emulator.admin("GET", "stats")["requests"]
    return {key: count for key, count in requests.items() if key.split()[0] in {"POST", "PUT", "DELETE"}}


def stored(name: str) -> list[str]:
    from airflow_provider_oos.hooks.oos import OosHook

    found = OosHook().get_template(name)
    return [step.name for step in found.operators or []]


def test_upsert_creates_then_changes_nothing_then_updates(emulator: EmulatorHandle) -> None:
    first = OosUpsertTemplateOperator(task_id="u", template=V1).execute(task_context())
    assert first.startswith("tpl-") and stored("backup-nightly") == ["dump"]
    after_create = writes(emulator)

    again = OosUpsertTemplateOperator(task_id="u", template=json.dumps(V1)).execute(task_context())
    assert again == first
    assert writes(emulator) == after_create  # the second run sent nothing that changes state

    updated = OosUpsertTemplateOperator(task_id="u", template=V2).execute(task_context())
    assert updated == first and stored("backup-nightly") == ["dump", "upload"]
    assert writes(emulator).get("PUT /api/logic/oos/v2/template") == 1


def test_upsert_rejects_bad_template_before_any_call(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="used twice"):
        OosUpsertTemplateOperator(task_id="u", template=template("x", shell("a"), shell("a"))).execute(
            task_context()
        )
    assert sum(emulator.admin("GET", "stats")["requests"].values()) == 0


def test_upsert_from_json_file_via_template_ext(emulator: EmulatorHandle, tmp_path: Path) -> None:
    from airflow.sdk import DAG

    (tmp_path / "backup.json").write_text(json.dumps(template("{{ params.name }}", shell("dump", "pg_dump"))))
    with DAG("upsert_file", schedule=None, template_searchpath=[str(tmp_path)], params={"name": "from-file"}):
        op = OosUpsertTemplateOperator(task_id="u", template="backup.json")
    context = {**task_context(), "params": {"name": "from-file"}}
    op.render_template_fields(context)  # as the task runner does before execute
    assert op.execute(context).startswith("tpl-")
    assert stored("from-file") == ["dump"]


def test_delete_by_name_and_by_id(emulator: EmulatorHandle) -> None:
    from airflow_provider_oos.hooks.oos import OosHook

    template_id = OosUpsertTemplateOperator(task_id="u", template=V1).execute(task_context())
    assert (
        OosDeleteTemplateOperator(task_id="d", template_name="backup-nightly").execute(task_context())
        == template_id
    )
    with pytest.raises(OosNotFoundError):
        OosHook().get_template("backup-nightly")
    # Missing is fine by default, an error when asked.
    assert (
        OosDeleteTemplateOperator(task_id="d", template_name="backup-nightly").execute(task_context()) is None
    )
    with pytest.raises(OosNotFoundError):
        OosDeleteTemplateOperator(task_id="d", template_name="backup-nightly", ignore_missing=False).execute(
            task_context()
        )
    second = OosUpsertTemplateOperator(task_id="u", template=V2).execute(task_context())
    assert OosDeleteTemplateOperator(task_id="d", template_id=second).execute(task_context()) == second
