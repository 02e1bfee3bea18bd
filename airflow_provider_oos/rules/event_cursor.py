"""The watch cursor of `OosExecutionEventTrigger`: which finished executions are new (pure).

A cursor is ``since`` (epoch ms: nothing that finished earlier is ever announced) and ``seen``
(id -> finished ms of the executions already announced that may still show up on a page). The list
is read newest end time first, so a poll reads pages only until it passes ``since``: one page while
nothing changes. ``since`` trails the newest end time seen by `GRACE_MS`, so an execution that shows
up in the list a little after its end time (a lagging index, a clock step) is still found, and
``seen`` keeps it from being announced twice. No Airflow, no HTTP: the trigger drives this.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

CURSOR_VERSION = 1
# An execution may appear in the list up to this long after its end time and still be announced.
GRACE_MS = 5 * 60 * 1000
# Bound on the ids kept: more executions than this ending within GRACE_MS is beyond any real use.
MAX_SEEN = 2000


class Finished(Protocol):
    """What the cursor reads of an execution (``client.models.Execution`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str | None: ...

    @property
    def finished_timestamp(self) -> int | None: ...


@dataclass
class WatchCursor:
    """Where a watch stands; saved (as `dumps`) before each announcement, so it survives a restart.

    :param since: epoch ms; executions that finished earlier are never announced.
    :param seen: id -> finished epoch ms of announced executions still within the grace window.
    """

    since: int
    seen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, saved: str | None, now_ms: int, look_back_ms: int) -> WatchCursor:
        """The cursor to resume from: the saved one, but never further back than ``look_back_ms``.

        :param saved: what `dumps` wrote, or None on the very first start (then: from now).
        :param now_ms: the current time, epoch ms.
        :param look_back_ms: how far back a restart looks for executions it missed.
        """
        floor = now_ms - look_back_ms
        loaded = _loads(saved)
        if loaded is None:
            return cls(since=now_ms)
        since = max(loaded.since, floor)
        return cls(since=since, seen={i: t for i, t in loaded.seen.items() if t >= since})

    def is_new(self, execution: Finished, states: frozenset[str]) -> bool:
        """Whether ``execution`` is to be announced now (in ``states``, ended since, not yet seen)."""
        finished = execution.finished_timestamp
        return (
            execution.state in states
            and finished is not None
            and finished >= self.since
            and execution.id not in self.seen
        )

    def passed(self, execution: Finished) -> bool:
        """Whether a page sorted newest end first has gone below ``since`` (no later page matters)."""
        finished = execution.finished_timestamp
        return finished is not None and finished < self.since

    def advanced(self, announced: Iterable[Finished], newest_ms: int | None) -> WatchCursor:
        """The cursor after a poll: ``announced`` remembered, ``since`` moved up to the grace window.

        :param announced: the executions this poll announces.
        :param newest_ms: the newest end time the poll saw (announced or not), or None.
        """
        seen = dict(self.seen)
        seen.update({e.id: int(e.finished_timestamp or self.since) for e in announced})
        since = self.since if newest_ms is None else max(self.since, newest_ms - GRACE_MS)
        kept = sorted(((t, i) for i, t in seen.items() if t >= since), reverse=True)[:MAX_SEEN]
        return WatchCursor(since=since, seen={i: t for t, i in kept})

    def dumps(self) -> str:
        return json.dumps({"v": CURSOR_VERSION, "since": self.since, "seen": self.seen}, sort_keys=True)


def _loads(saved: str | None) -> WatchCursor | None:
    """A saved cursor, or None when there is none or it is unreadable (then: start from now)."""
    if not saved:
        return None
    try:
        data: Any = json.loads(saved)
    except ValueError:
        return None
    if not isinstance(data, Mapping) or data.get("v") != CURSOR_VERSION:
        return None
    since, seen = data.get("since"), data.get("seen")
    if not isinstance(since, int) or not isinstance(seen, Mapping):
        return None
    return WatchCursor(since=since, seen={str(k): int(v) for k, v in seen.items() if isinstance(v, int)})


def merged(mine: WatchCursor, stored: str | None) -> WatchCursor:
    """``mine`` plus whatever another instance of the same watch saved meanwhile (triggerer HA)."""
    other = _loads(stored)
    if other is None:
        return mine
    seen = {**other.seen, **mine.seen}
    since = max(mine.since, other.since)
    return WatchCursor(since=since, seen={i: t for i, t in seen.items() if t >= since})
