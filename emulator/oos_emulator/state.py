"""One running emulator's state: the store, the engine, the fault table and the request counts.

The routes, the gateway, the admin API and the console all act on an `Emulator`; `app.create_app`
assembles them around one. Kept apart from `app` so that no route imports the app that mounts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oos_emulator.engine import Engine
from oos_emulator.faults import FaultTable
from oos_emulator.signature import KeyPair
from oos_emulator.store import Store


@dataclass
class EmulatorConfig:
    keys: dict[str, KeyPair]
    db_path: str | None = None
    time_scale: float = 1.0
    instances: list[str] = field(default_factory=list)


class Emulator:
    """Everything one running emulator holds: store, engine, fault table, request counts."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.engine = Engine(self.store, config.time_scale)
        self.faults = FaultTable()
        self.requests: dict[str, int] = {}
        self._requests_lock = threading.Lock()
        # Set by the CLI: lets a "drop" fault find the connection to abort.
        self.connections: Callable[[], Any] | None = None
        if not self.store.instances and not self.store.executions:
            self.seed()

    def seed(self) -> None:
        if self.config.instances:
            self.store.put_instances(self.config.instances, "Running")

    def count_request(self, method: str, path: str) -> None:
        key = f"{method} {path}"
        with self._requests_lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def reset(self) -> None:
        with self.store.lock:
            self.store.reset()
            self.faults.clear()
            with self._requests_lock:
                self.requests.clear()
            self.seed()
