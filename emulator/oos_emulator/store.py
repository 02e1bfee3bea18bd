"""Emulator state: kept in memory for speed, written through to SQLite so a restart loses nothing.

One `RLock` guards everything; the HTTP handlers and the engine thread both take it. SQLite is
the durable copy (`:memory:` by default, a file with `--db`); the dicts are what requests read.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from oos_emulator.texts import DEFAULT_LOCALE, LOCALES, localize_execution

_ALPHABET = string.ascii_letters + string.digits
_SCHEMA = """
CREATE TABLE IF NOT EXISTS templates (id TEXT PRIMARY KEY, body TEXT NOT NULL, created INTEGER NOT NULL,
                                      updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, body TEXT NOT NULL, runtime TEXT NOT NULL,
                                       created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def random_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def log_timestamp(ms: int) -> str:
    """A task log timestamp: a string, as every SDK types it (ISO 8601 UTC with milliseconds)."""
    stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def task_view(task: dict[str, Any], with_log: bool) -> dict[str, Any]:
    """A task as answered: `log` only when asked for (`withLog`), in its children too."""
    if with_log:
        return task
    view = {key: value for key, value in task.items() if key != "log"}
    if task.get("children"):
        view["children"] = [task_view(child, False) for child in task["children"]]
    return view


def execution_view(body: dict[str, Any], with_log: bool) -> dict[str, Any]:
    if with_log:
        return body
    return {**body, "tasks": [task_view(task, False) for task in body["tasks"]]}


@dataclass
class ExecutionRecord:
    """`body` is exactly the API JSON; `runtime` is what the engine needs to carry on after a restart."""

    body: dict[str, Any]
    runtime: dict[str, Any] = field(default_factory=dict)


@dataclass
class TemplateRecord:
    body: dict[str, Any]
    created: int
    updated: int


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.lock = threading.RLock()
        # check_same_thread=False: the engine thread and the event loop share it under `lock`.
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False)
        if path:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.templates: dict[str, TemplateRecord] = {}
        self.executions: dict[str, ExecutionRecord] = {}
        self.instances: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self._answer_cache: dict[tuple[str, bool, str], bytes] = {}
        self._load()

    def _load(self) -> None:
        for tid, body, created, updated in self._db.execute(
            "SELECT id, body, created, updated FROM templates"
        ):
            self.templates[tid] = TemplateRecord(json.loads(body), created, updated)
        for eid, body, runtime in self._db.execute(
            "SELECT id, body, runtime FROM executions ORDER BY created"
        ):
            self.executions[eid] = ExecutionRecord(json.loads(body), json.loads(runtime))
        for iid, body in self._db.execute("SELECT id, body FROM instances"):
            self.instances[iid] = json.loads(body)
        self.counters = dict(self._db.execute("SELECT name, value FROM counters"))

    def commit(self) -> None:
        with self.lock:
            self._db.commit()

    def close(self) -> None:
        with self.lock:
            self._db.commit()
            self._db.close()

    # --- counters -----------------------------------------------------------------------------
    def bump(self, name: str) -> int:
        with self.lock:
            value = self.counters.get(name, 0) + 1
            self.counters[name] = value
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
            return value

    def next_revision(self) -> int:
        return self.bump("revision")

    # --- templates ----------------------------------------------------------------------------
    def put_template(self, body: dict[str, Any]) -> None:
        with self.lock:
            current = self.templates.get(body["id"])
            stamp = now_ms()
            record = TemplateRecord(body, current.created if current else stamp, stamp)
            self.templates[body["id"]] = record
            self._db.execute(
                "INSERT OR REPLACE INTO templates (id, body, created, updated) VALUES (?, ?, ?, ?)",
                (body["id"], dumps(body), record.created, record.updated),
            )
            self._db.commit()

    def delete_template(self, template_id: str) -> None:
        with self.lock:
            del self.templates[template_id]
            self._db.execute("DELETE FROM templates WHERE id = ?", (template_id,))
            self._db.commit()

    def template_by_name(self, name: str, template_type: str = "INDIVIDUAL") -> TemplateRecord | None:
        with self.lock:
            return next(
                (
                    t
                    for t in self.templates.values()
                    if t.body["name"] == name and t.body.get("type", "INDIVIDUAL") == template_type
                ),
                None,
            )

    # --- executions ---------------------------------------------------------------------------
    def save_execution(self, record: ExecutionRecord, commit: bool = True) -> None:
        """Persist a changed execution and drop its cached answer."""
        with self.lock:
            body = record.body
            for with_log in (False, True):
                for locale in LOCALES:
                    self._answer_cache.pop((body["id"], with_log, locale), None)
            self.executions[body["id"]] = record
            self._db.execute(
                "INSERT OR REPLACE INTO executions (id, body, runtime, created) VALUES (?, ?, ?, ?)",
                (body["id"], dumps(body), dumps(record.runtime), body["createdTimestamp"]),
            )
            if commit:
                self._db.commit()

    def execution_answer(
        self, execution_id: str, with_log: bool = False, locale: str = DEFAULT_LOCALE
    ) -> bytes | None:
        """The whole GET-execution envelope, serialized once per change and locale (polling must
        stay cheap)."""
        key = (execution_id, with_log, locale)
        with self.lock:
            cached = self._answer_cache.get(key)
            if cached is None:
                record = self.executions.get(execution_id)
                if record is None:
                    return None
                result = localize_execution(execution_view(record.body, with_log), locale, record.runtime)
                envelope = {"success": True, "msg": "", "code": 200, "result": result}
                cached = dumps(envelope).encode()
                self._answer_cache[key] = cached
            return cached

    # --- instances ----------------------------------------------------------------------------
    def put_instances(self, ids: list[str], status: str) -> None:
        with self.lock:
            for iid in ids:
                self.instances[iid] = {**self.instances.get(iid, {}), "instanceId": iid, "status": status}
            self.save_instances()

    def save_instances(self, commit: bool = True) -> None:
        with self.lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO instances (id, body) VALUES (?, ?)",
                [(iid, dumps(body)) for iid, body in self.instances.items()],
            )
            if commit:
                self._db.commit()

    # --- reset --------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            for table in ("templates", "executions", "instances", "counters"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.commit()
            self.templates.clear()
            self.executions.clear()
            self.instances.clear()
            self.counters.clear()
            self._answer_cache.clear()
