"""The trigger never blocks the triggerer's event loop (issue 11: "async thread was blocked for 0.48 s").

Run in a fresh interpreter, as a triggerer starts: Airflow loaded, the provider not yet. The trigger
module is imported on the loop thread (as the triggerer does), then one trigger runs to its event in
asyncio debug mode. Checked: none of the provider's modules or the HTTP stack is imported on the loop
thread while the trigger runs (they load in a worker thread), and no step of the loop takes longer than the
triggerer's own warning threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from oos_emulator.process import EmulatorHandle

from tests.support.oos_task_helpers import connection_json, shell, template

# Airflow's [triggerer] blocked_main_thread_warning_threshold default (3.2+): the warning we must not cause.
BLOCKED_THRESHOLD_SECONDS = 0.2
# Ours and the HTTP stack: none of these may be imported on the loop thread while the trigger runs.
# (Airflow's own connection lookup may import a little of Airflow there; the step check bounds it.)
WATCHED_PACKAGES = {"airflow_provider_oos", "aiohttp", "yarl", "multidict", "requests", "urllib3", "tenacity"}

PROBE = textwrap.dedent(
    """
    import asyncio, importlib, json, logging, sys, threading

    import airflow.jobs.triggerer_job_runner  # what a running triggerer has loaded

    slow, loop_imports, watching = [], [], [False]

    class Slow(logging.Handler):
        def emit(self, record):
            slow.append(record.getMessage()[:300])

    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(Slow())
    asyncio_log.setLevel(logging.WARNING)
    asyncio_log.propagate = False

    def audit(event, args):
        if event == "import" and watching[0] and threading.current_thread() is threading.main_thread():
            loop_imports.append(args[0])

    sys.addaudithook(audit)

    async def main():
        asyncio.get_running_loop().slow_callback_duration = float(sys.argv[2])
        module = importlib.import_module("airflow_provider_oos.triggers.oos")  # on the loop, as Airflow does
        watching[0] = True
        trigger = module.OosExecutionTrigger(sys.argv[1], poll_interval=0.05)
        events = [event.payload async for event in trigger.run()]
        watching[0] = False
        from airflow_provider_oos.client.session_pool import close_all_sessions

        await close_all_sessions()
        print("RESULT " + json.dumps({"events": events, "loop_imports": loop_imports, "slow": slow}))

    asyncio.run(main(), debug=True)
    """
)


def run_probe(tmp_path: Path, execution_id: str, conn: str, threshold: float) -> dict[str, object]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {**os.environ, "AIRFLOW_CONN_OOS_DEFAULT": conn, "PYTHONASYNCIODEBUG": "1"}
    done = subprocess.run(
        [sys.executable, str(script), execution_id, str(threshold)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-4000:]
    result: dict[str, object] = json.loads(lines[-1][len("RESULT ") :])
    return result


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_trigger_does_not_block_the_event_loop(
    oos_emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    from airflow_provider_oos.hooks.oos import OosHook

    conn = connection_json(oos_emulator)
    monkeypatch.setenv("AIRFLOW_CONN_OOS_DEFAULT", conn)
    lines = ["# emulator: sleep 5"] + (["# emulator: exit 2"] if outcome == "failed" else [])
    execution_id = OosHook().create_execution(template("probe", shell("work", *lines)))
    result = run_probe(tmp_path, execution_id, conn, BLOCKED_THRESHOLD_SECONDS)
    assert [e["status"] for e in result["events"]] == [outcome]  # type: ignore[union-attr,index]
    imported = [str(name) for name in result["loop_imports"]]  # type: ignore[attr-defined]
    ours = [name for name in imported if name.split(".")[0] in WATCHED_PACKAGES]
    assert ours == [], f"imported on the event loop while the trigger ran: {ours}"
    assert result["slow"] == [], f"event loop steps over {BLOCKED_THRESHOLD_SECONDS} s: {result['slow']}"
