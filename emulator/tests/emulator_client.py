"""A small signed OOS client and template builders for the emulator tests (real HTTP, no hook)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from oos_emulator.process import EmulatorHandle

from airflow_provider_oos.client.auth import BceCredentials, signed_headers

API = "/api/logic/oos"
FINAL = {"SUCCESS", "FAILED", "CANCELED", "ROLLBACK_SUCCESS", "ROLLBACK_FAILED"}


class Oos:
    """A minimal signed OOS client for the emulator tests (the provider's hook is tested separately).

    `base_path` picks the path style: the seed's `/api/logic/oos` (default) or `""` (OpenAPI).
    `locale` is sent as the `locale` query parameter on every call (signed with the rest of the
    query); English by default here, so the tests read the rules' texts; None sends none (the
    service's default, Chinese).
    """

    def __init__(
        self,
        emulator: EmulatorHandle,
        credentials: BceCredentials | None = None,
        base_path: str = API,
        locale: str | None = "en-us",
    ) -> None:
        self.url = emulator.url
        self.base_path = base_path
        self.locale = locale
        self.credentials = credentials or BceCredentials(emulator.access_key, emulator.secret_key)
        self.session = requests.Session()

    def call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> requests.Response:
        query = {**(query or {}), **({"locale": self.locale} if self.locale else {})}
        url = f"{self.url}{self.base_path}{path}" + (f"?{urlencode(query)}" if query else "")
        headers = signed_headers(self.credentials, method, url)
        return self.session.request(method, url, json=body, headers=headers, timeout=10)

    def ok(self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
        response = self.call(method, path, query, body)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["success"] is True and payload["code"] == 200, payload
        return payload["result"]

    def error(
        self, status: int, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> str:
        response = self.call(method, path, query, body)
        assert response.status_code == status, response.text
        payload = response.json()
        assert payload["success"] is False and payload["code"] == status, payload
        message: str = payload["msg"]
        return message

    def create(self, template: dict[str, Any], properties: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"template": template}
        if properties is not None:
            body["properties"] = properties
        execution_id: str = self.ok("POST", "/v2/execution", body=body)["id"]
        return execution_id

    def get(self, execution_id: str, with_log: bool = False) -> dict[str, Any]:
        query = {"id": execution_id} | ({"withLog": "true"} if with_log else {})
        result: dict[str, Any] = self.ok("GET", "/v2/execution", query)
        return result

    def wait(
        self, execution_id: str, states: set[str] = FINAL, timeout: float = 15, with_log: bool = True
    ) -> dict[str, Any]:
        """Poll until a state in `states`; the answer is read with `withLog` (tests look at logs)."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get(execution_id, with_log)
            if execution["state"] in states:
                return execution
            assert time.monotonic() < deadline, f"still {execution['state']}: {json.dumps(execution)[:2000]}"
            time.sleep(0.01)

    def run(self, template: dict[str, Any], properties: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.wait(self.create(template, properties))


def step(name: str, action: str = "BCE::Agent::ExecuteShell", **fields: Any) -> dict[str, Any]:
    props = fields.pop("properties", None)
    if props is None and action == "BCE::Agent::ExecuteShell":
        props = {"content": "echo ok"}
    return {
        "name": name,
        "operator": action,
        "retries": 0,
        "retryInterval": 1000,
        "timeout": 600000,
        "properties": props or {},
        **fields,
    }


def shell(name: str, script: str, **fields: Any) -> dict[str, Any]:
    return step(name, properties={"content": script}, **fields)


def template(*steps: dict[str, Any], name: str = "tpl", **fields: Any) -> dict[str, Any]:
    return {"name": name, "linear": True, "operators": list(steps), **fields}


def tasks_by_name(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["operator"]["name"]: task for task in execution["tasks"]}


def log_ms(entry: dict[str, Any]) -> int:
    """A log entry's timestamp (a string, as the SDKs type it: ISO 8601 UTC) in epoch ms."""
    stamp = entry["timestamp"]
    assert isinstance(stamp, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def started_at(task: dict[str, Any]) -> int:
    return next(log_ms(entry) for entry in task["log"] if entry["msg"].endswith(("started", ")")))
