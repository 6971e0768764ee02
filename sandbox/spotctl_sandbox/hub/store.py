"""PostgreSQL access for the hub: a small async pool, the hub's schema, and graceful absence.

The hub must start without the database (notifications, rooms and sessions need only Redis); chat
and playlists answer `unavailable` until PostgreSQL is reachable.
"""

from __future__ import annotations

import logging
from importlib import resources

from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("spotctl_sandbox.hub.store")
_LOCK_ID = 0x48554221  # advisory lock so parallel workers do not race on CREATE ... IF NOT EXISTS


class Database:
    def __init__(self, url: str) -> None:
        self.pool = AsyncConnectionPool(url, min_size=1, max_size=4, open=False,
                                        kwargs={"autocommit": True})
        self.available = False

    async def open(self, timeout_s: float = 5.0) -> None:
        try:
            await self.pool.open(wait=True, timeout=timeout_s)
            async with self.pool.connection() as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
                try:
                    await conn.execute(resources.files(__package__).joinpath("schema.sql").read_text())
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            self.available = True
        except Exception as exc:
            log.warning("PostgreSQL not available (%s): chat and playlists are disabled", exc)

    async def close(self) -> None:
        await self.pool.close()
