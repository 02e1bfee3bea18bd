"""The pooled aiohttp sessions of `OosAsyncHook`: one per (event loop, connection id).

Every trigger of a triggerer process that uses the same connection shares one session, so
thousands of waits queue for at most `POOL_LIMIT` sockets instead of opening thousands. A session
is bound to the loop it was created on, hence the loop in the key.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from airflow_provider_oos.client.transport import user_agent

if TYPE_CHECKING:
    import aiohttp

# Open connections per pooled session.
POOL_LIMIT = 100

_Key = tuple[asyncio.AbstractEventLoop, str]


class SessionPool:
    """Pooled sessions plus a count of their users, so the last user out closes a session.

    :param limit: open connections per session.
    """

    def __init__(self, limit: int = POOL_LIMIT) -> None:
        self.limit = limit
        self._sessions: dict[_Key, aiohttp.ClientSession] = {}
        self._users: dict[_Key, int] = {}

    def session(self, conn_id: str) -> aiohttp.ClientSession:
        """The running loop's session for `conn_id`, created on first use."""
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get((loop, conn_id))
        if session is None or session.closed:
            for key in [key for key in self._sessions if key[0].is_closed()]:
                del self._sessions[key]  # sessions of dead loops cannot be closed any more; drop them
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, ttl_dns_cache=300),
                headers={"User-Agent": user_agent()},
                skip_auto_headers=("Content-Type",),
            )
            self._sessions[(loop, conn_id)] = session
        return session

    def is_open(self, conn_id: str) -> bool:
        """Whether the running loop holds a session for `conn_id`."""
        return (asyncio.get_running_loop(), conn_id) in self._sessions

    def open_count(self) -> int:
        """Sessions held for the running loop."""
        loop = asyncio.get_running_loop()
        return sum(1 for key in self._sessions if key[0] is loop)

    def acquire(self, conn_id: str) -> None:
        """Count one more user of the running loop's session for `conn_id`."""
        key = (asyncio.get_running_loop(), conn_id)
        self._users[key] = self._users.get(key, 0) + 1

    async def release(self, conn_id: str) -> None:
        """Count one user less; the last one out closes the session."""
        key = (asyncio.get_running_loop(), conn_id)
        users = self._users.pop(key, 1) - 1
        if users > 0:
            self._users[key] = users
        elif (session := self._sessions.pop(key, None)) is not None:
            await session.close()

    async def close_loop(self) -> None:
        """Close every session of the running loop (call it before the loop ends)."""
        loop = asyncio.get_running_loop()
        for key in [key for key in self._sessions if key[0] is loop]:
            await self._sessions.pop(key).close()


POOL = SessionPool()


async def close_all_sessions() -> None:
    """Close the pooled sessions of the running event loop (call it before the loop ends)."""
    await POOL.close_loop()
