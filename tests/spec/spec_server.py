"""A recording OOS server that answers every published operation in one published shape.

Built on tests/support/oos_server.py's ScriptedOosServer (real sockets, real HTTP/1.1, every
request's signature checked and recorded); only the answers differ: they come from the data file's
operations and from `shapes`, under one base path. A path that is no published operation gets the
404 a gateway gives, so a client calling something unpublished sees it at once.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.spec import conformance, shapes
from tests.support.oos_server import SECRET_KEY, Recorded, Reply, ScriptedOosServer

LIST_TOTAL = 150  # executions the list call knows: more than one page of 100


class SpecServer(ScriptedOosServer):
    """Answers in `shape` under `base_path`. Each execution is RUNNING for its first `running_polls`
    reads, then `outcome` (SUCCESS or FAILED); withLog is honoured as the shape does. With
    `only_published_style`, an operation not published in this base path's style gets a 404 (as a
    seed-era endpoint would answer the OpenAPI-only calls)."""

    def __init__(
        self,
        base_path: str,
        shape: str = "current",
        outcome: str = "SUCCESS",
        running_polls: int = 1,
        only_published_style: bool = False,
    ) -> None:
        super().__init__(access_key="test-ak", secret_key=SECRET_KEY)
        self.base_path = base_path
        self.shape = shape
        self.outcome = outcome
        self.running_polls = running_polls
        self.style = next(k for k, v in conformance.spec()["base_paths"].items() if v == base_path)
        self.only_published_style = only_published_style
        self.tags: dict[str, list[tuple[str, str]]] = {}
        self.reads: dict[str, int] = {}
        self._ids = itertools.count(1)

    def conn_json(self, **extra: Any) -> str:
        return super().conn_json(base_path=self.base_path, **extra)

    # -- what the tests inspect ----------------------------------------------------------------

    def recorded(self) -> list[Recorded]:
        return list(self.requests)

    def op_calls(self, name: str) -> list[Recorded]:
        """Recorded requests of one published operation (under this server's base path)."""
        op = conformance.operation(name)
        return [r for r in self.requests if r.method == op.method and r.path == self.base_path + op.path]

    def with_log_reads(self) -> list[Recorded]:
        return [r for r in self.op_calls("get_execution") if r.query.get("withLog") == "true"]

    # -- answers -------------------------------------------------------------------------------

    def _body_of_last(self, method: str, path: str) -> Any:
        for request in reversed(self.requests):
            if request.method == method and request.path == path:
                try:
                    return request.json
                except ValueError:
                    return None
        return None

    def _next_reply(self, method: str, path: str, query: dict[str, str]) -> Reply:
        after = conformance.split_base(path, self.base_path)
        op = conformance.find(method, after) if after is not None else None
        if op is None or (self.only_published_style and self.style not in op.styles):
            return Reply(status=404, json={"success": False, "code": 404, "msg": f"no API {method} {path}"})
        body = self._body_of_last(method, path)
        return Reply.ok(self._result(op.name, query, body if isinstance(body, dict) else {}))

    def _execution(self, execution_id: str, with_log: bool) -> dict[str, Any]:
        seen = self.reads[execution_id] = self.reads.get(execution_id, 0) + 1
        state = "RUNNING" if seen <= self.running_polls else self.outcome
        return shapes.execution(
            self.shape, execution_id, state, with_log=with_log, tags=self.tags.get(execution_id)
        )

    def _result(self, name: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        if name == "create_execution":
            execution_id = f"d-spec{next(self._ids):06d}"
            self.tags[execution_id] = [
                (str(t.get("tagKey", t.get("key"))), str(t.get("tagValue", t.get("value"))))
                for t in body.get("tags") or []
                if isinstance(t, dict)
            ]
            return {"id": execution_id}
        if name == "get_execution":
            return self._execution(query.get("id", "d-?"), query.get("withLog") == "true")
        if name == "list_executions":
            return self._execution_page(body)
        if name == "get_task":
            task = shapes.execution(self.shape, query.get("dagId", "d-?"), "FAILED")["tasks"][0]
            if query.get("ignoreChildren") == "true":
                task["children"] = []
            return task
        if name == "list_task_children":
            children = shapes.execution(self.shape, body.get("executionId", "d-?"), "FAILED")["tasks"][0]
            items = children.get("children") or []
            page = {"pageNo": body.get("pageNo", 1), "pageSize": body.get("pageSize", 100)}
            return {"children": items, "total": len(items), "orderBy": "loopIndex", "order": "asc", **page}
        return _static_result(name, self.shape, body)

    def _execution_page(self, body: dict[str, Any]) -> dict[str, Any]:
        page_no, page_size = int(body.get("pageNo") or 1), int(body.get("pageSize") or 10)
        start = (page_no - 1) * page_size
        ids = [f"d-list{i:06d}" for i in range(start, min(start + page_size, LIST_TOTAL))]
        executions = [shapes.execution(self.shape, i, "SUCCESS") for i in ids]
        return {"executions": executions, "orderBy": body.get("sort", "startTime"), "order": "desc",
                "pageNo": page_no, "pageSize": page_size, "totalCount": LIST_TOTAL}  # fmt: skip


TEMPLATE = {
    "id": "tpl-spec0001",
    "name": "stop_then_patch",
    "type": "INDIVIDUAL",
    "description": "stop the fleet",
    "tags": [{"key": "team", "value": "ops"}],
    "linear": True,
    "links": [],
    "operators": [
        {"name": "stop_bcc", "operator": "BCE::BCC::StopInstance", "retries": 0,
         "retryInterval": 300000, "timeout": 21600000, "properties": {}}
    ],
    "properties": [{"name": "instances", "type": "list", "required": True}],
    "updatedTime": "2026-11-27 10:00:00",
}  # fmt: skip
ACTION = {"name": "BCE::BCC::StopInstance", "operator": "BCE::BCC::StopInstance", "label": "Stop BCC",
          "properties": [{"name": "instances", "type": "bccInstance", "required": True}]}  # fmt: skip


def _static_result(name: str, shape: str, body: dict[str, Any]) -> Any:
    page = {"orderBy": body.get("sort", "createTime"), "order": "desc", "pageNo": body.get("pageNo", 1),
            "pageSize": body.get("pageSize", 10), "totalCount": 1}  # fmt: skip
    results: dict[str, Any] = {
        "create_template": {"id": "tpl-spec0001"},
        "check_template": shapes.check_template_result(shape),
        "update_template": None,
        "delete_template": None,
        "get_template": json.loads(json.dumps(TEMPLATE)),
        "list_templates": {"templates": [TEMPLATE], **page},
        "list_operators_v1": {"operators": [ACTION], **page},
        "list_operators_v2": {"operators": [ACTION], "categories": [{"name": "BCC", "sequence": 1}], **page},
    }
    return results[name]
