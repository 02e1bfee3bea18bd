"""The live check's command line: ``python -m airflow_provider_oos.live_check`` (``make live-check``).

Exit status: 0 when every call answered as published and parsed, 1 when the report lists a
problem, 2 when a setting or an argument is wrong (said before any call, naming the variable or
the option and the fix).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_oos.client.connection import DEFAULT_BASE_PATH
from airflow_provider_oos.live_check.settings import (
    ENV_ACCESS_KEY,
    ENV_ENDPOINT,
    ENV_REGION,
    ENV_SECRET_KEY,
    ENV_SESSION_TOKEN,
    OPENAPI_BASE_PATH,
    LiveCheckSettingsError,
    Options,
    config_from_env,
)

DEFAULT_REPORT = "live-check-report.json"


class UsageError(ValueError):
    """An option is wrong; the message names it and the fix."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_oos.live_check",
        description=(
            "Check this provider against a real OOS endpoint and write a report to attach to an issue. "
            f"Settings from the environment: {ENV_ENDPOINT}, {ENV_ACCESS_KEY}, {ENV_SECRET_KEY}, "
            f"optional {ENV_SESSION_TOKEN} and {ENV_REGION}. Read-only unless --create-from is given."
        ),
    )
    p.add_argument(
        "--create-from", metavar="TEMPLATE_NAME", help="run one execution of this template, wait for it"
    )
    p.add_argument(
        "--properties", metavar="JSON", default="{}", help="that execution's properties, a JSON object"
    )
    p.add_argument(
        "--execution-id", metavar="ID", help="read this execution (default: the created or newest one)"
    )
    p.add_argument(
        "--base-path",
        metavar="PATH",
        help=f'read in this path style only: {DEFAULT_BASE_PATH!r} or "" (both are probed anyway)',
    )
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the created execution")
    p.add_argument("--poll-interval", type=float, default=10.0, help="seconds between reads while waiting")
    p.add_argument(
        "--report", default=DEFAULT_REPORT, help="JSON report path; the Markdown goes beside it (.md)"
    )
    return p


def options_from(args: argparse.Namespace) -> Options:
    """The checked options; raises UsageError naming the option."""
    try:
        properties: Any = json.loads(args.properties)
    except ValueError:
        raise UsageError(
            '--properties is not valid JSON: give a JSON object, e.g. \'{"instances": ["i-a"]}\''
        ) from None
    if not isinstance(properties, dict):
        raise UsageError('--properties must be a JSON object, e.g. \'{"instances": ["i-a"]}\'')
    if args.create_from is not None and not args.create_from.strip():
        raise UsageError("--create-from is empty: give the name of an existing template")
    if args.execution_id is not None and not args.execution_id.strip():
        raise UsageError("--execution-id is empty: give an execution id such as d-…")
    if args.base_path is not None and args.base_path not in (DEFAULT_BASE_PATH, OPENAPI_BASE_PATH):
        raise UsageError(f'--base-path must be {DEFAULT_BASE_PATH!r} or "", got {args.base_path!r}')
    for name, value in (("--timeout", args.timeout), ("--poll-interval", args.poll_interval)):
        if not value > 0:
            raise UsageError(f"{name} must be a number of seconds greater than 0, got {value:g}")
    return Options(
        base_path=args.base_path,
        execution_id=args.execution_id.strip() if args.execution_id else None,
        create_from=args.create_from.strip() if args.create_from else None,
        properties=properties,
        timeout=args.timeout,
        poll_interval=args.poll_interval,
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        options = options_from(args)
        config = config_from_env(os.environ if environ is None else environ)
    except (UsageError, LiveCheckSettingsError) as exc:
        print(f"live check: {exc}", file=sys.stderr)
        return 2
    # Imported once the settings are good: the hook brings Airflow, which takes seconds to import.
    from airflow_provider_oos.live_check.checks import LiveCheck
    from airflow_provider_oos.live_check.report import Redactor, build_report, write_reports

    redact = Redactor(config.credentials)

    def say(line: str) -> None:
        print(redact(line), flush=True)

    started = datetime.now(timezone.utc)
    mode = "read-only" if options.create_from is None else "read-only + one create"
    say(f"OOS live check of {config.endpoint} ({mode})")
    check = LiveCheck(config, options, say)
    try:
        check.run()
    finally:
        check.hook.close()
    report = build_report(check, started)
    json_path, md_path = write_reports(report, Path(args.report), redact)
    for problem in check.problems:
        say(f"PROBLEM: {problem}")
    say(f"Result: {report['result']}. Report: {json_path} and {md_path}")
    return 1 if check.problems else 0
