"""The two published path styles of OOS, and which paths are OOS API calls.

The seed and the older SDKs use the base path `/api/logic/oos` (`/api/logic/oos/v2/execution`);
the OpenAPI metadata uses none (`/v2/execution`). The emulator serves every call under both.
"""

from __future__ import annotations

import re

OOS_PREFIX = "/api/logic/oos"
BASE_PATHS = (OOS_PREFIX, "")
CONSOLE_PREFIX = "/console/execution/"
_VERSIONED = re.compile(r"^/v\d+/")


def is_oos_path(path: str) -> bool:
    """An OOS API path in either style: signed, counted, open to faults."""
    return path.startswith(OOS_PREFIX + "/") or _VERSIONED.match(path) is not None


def operation_path(path: str) -> str:
    """The path after the base path: `/api/logic/oos/v2/execution` and `/v2/execution` → `/v2/execution`."""
    return path[len(OOS_PREFIX) :] if path.startswith(OOS_PREFIX + "/") else path
