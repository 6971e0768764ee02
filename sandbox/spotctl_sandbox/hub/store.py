"""PostgreSQL access for the hub: a small async pool, the hub's schema, and graceful absence.

The hub must start without the database (notifications, rooms and sessions need only Redis); chat
and playlists answer `unavailable` until PostgreSQL is reachable. The pool is the API's bounded one
(spotctl_sandbox.db.bounded): a checkout or a statement that waits longer than the hub's dependency
bound fails (the frame gets `unavailable` naming PostgreSQL), and dead connections are discarded on
checkout, so chat resumes as soon as the server answers again. Playlists stored in MongoDB get the
same treatment: the client waits at most the bound, a failure answers `unavailable` naming MongoDB and
opens its own breaker, and pymongo reconnects by itself once MongoDB is back.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources

import psycopg

from spotctl_sandbox.db import amigrate
from spotctl_sandbox.db.bounded import open_pool
from spotctl_sandbox.playlists import PlaylistRepository, open_repository

from .core.breaker import Breaker

log = logging.getLogger("spotctl_sandbox.hub.store")
_LOCK_ID = 0x48554221  # advisory lock so parallel workers do not race on CREATE ... IF NOT EXISTS


class Database:
    def __init__(self, url: str, mongo_url: str | None = None, *, answer_within_s: float = 1.5) -> None:
        # a playlist edit holds one connection (the log's lock) while the playlist store takes another;
        # the bounded pool checks a connection before handing it out (a PostgreSQL restart's dead ones are
        # replaced, not handed to a request that then fails with AdminShutdown)
        # reconnect_s: the pool keeps reconnecting through an outage of minutes (psycopg's default); one
        # that gave up after the API's 1.5 s stayed without connections after PostgreSQL came back
        self.pool = open_pool(url, answer_within_s=answer_within_s, min_size=1, max_size=10, name="hub",
                              reconnect_s=300.0)
        self.url, self.mongo_url = url, mongo_url
        self.available = False
        self.breaker = Breaker("postgres")  # open after a failed call: frames fail at once for a moment
        self.mongo = Breaker("mongodb")  # the same for the playlists' store, when that is MongoDB
        self.answer_within_s = answer_within_s
        self.playlists: PlaylistRepository | None = None  # the API's playlists (MongoDB or PostgreSQL JSONB)

    async def open(self, timeout_s: float = 5.0, *, quiet: bool = False) -> bool:
        """Connect, apply the hub's schema and the stack's (the API's playlists, users and songs live
        there), find the playlists' store; False (features disabled) if PostgreSQL is not there."""
        try:
            # the schema on a connection of its own: applying it may take longer than a frame's bound
            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                             connect_timeout=max(2, round(timeout_s))) as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
                try:
                    await conn.execute(resources.files(__package__).joinpath("schema.sql").read_text())
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
                await amigrate(conn)
            await self.pool.open(wait=False)  # a no-op once open: the pool keeps reconnecting itself
            if self.playlists is None:
                self.playlists = await open_repository(self.mongo_url, self.pool,
                                                       timeout_ms=max(1, round(self.answer_within_s * 1000)))
            self.available = True
        except Exception as exc:
            if not quiet:
                log.warning("PostgreSQL not available (%s): chat and playlists are disabled for now", exc)
        return self.available

    async def keep_opening(self, every_s: float = 5.0) -> None:
        """Retry until PostgreSQL answers, so a database that starts after the hub is picked up."""
        while not self.available:
            await asyncio.sleep(every_s)
            if await self.open(quiet=True):
                log.info("PostgreSQL is back: chat and playlists are enabled")

    async def close(self) -> None:
        if self.playlists is not None:
            await self.playlists.close()
        await self.pool.close()
