"""Playlist storage: MongoDB when MONGO_URL answers, else PostgreSQL JSONB (same interface).

The choice is made once at start-up (`open_repository`) and reported by the API's /health as
`playlists_backend`, which `spotctl ps` shows.
"""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool
from pymongo.errors import PyMongoError

from spotctl_sandbox.playlists.mongo import MongoPlaylists
from spotctl_sandbox.playlists.postgres import PostgresPlaylists
from spotctl_sandbox.playlists.repository import Backend, Playlist, PlaylistRepository

__all__ = ["Backend", "MongoPlaylists", "Playlist", "PlaylistRepository", "PostgresPlaylists",
           "open_repository"]

log = logging.getLogger(__name__)


async def open_repository(mongo_url: str | None, pool: AsyncConnectionPool) -> PlaylistRepository:
    """MongoDB if configured and reachable now; otherwise the PostgreSQL JSONB fallback."""
    if mongo_url:
        mongo = MongoPlaylists(mongo_url)
        try:
            await mongo.ping()
            await mongo.setup()
        except PyMongoError as exc:
            log.warning("MONGO_URL set but MongoDB does not answer (%s); playlists use PostgreSQL JSONB", exc)
            await mongo.close()
        else:
            return mongo
    return PostgresPlaylists(pool)
