"""Playlists: one model, one set of rules, two storage back-ends — used by the API and the hub.

    model.py       Playlist (owner, collaborators, invites, share link, visibility, version)
    access.py      authorize(playlist, actor, action) -> Decision: the one pure permission check
    service.py     PlaylistService: each operation = read, authorize, change, store if unchanged
    repository.py  PlaylistRepository protocol; mongo.py / postgres.py implement it
    directory.py   PostgresDirectory: which users and songs exist

Storage is MongoDB when MONGO_URL answers, else PostgreSQL JSONB (same interface). The choice is
made once at start-up (`open_repository`) and reported by the API's /health as `playlists_backend`.
"""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool
from pymongo.errors import PyMongoError

from spotctl_sandbox.playlists.access import Action, Actor, Decision, Relation, authorize, relation
from spotctl_sandbox.playlists.directory import PostgresDirectory
from spotctl_sandbox.playlists.model import Invite, Playlist, ShareLink, Visibility
from spotctl_sandbox.playlists.mongo import MongoPlaylists
from spotctl_sandbox.playlists.postgres import PostgresPlaylists
from spotctl_sandbox.playlists.repository import Backend, PlaylistRepository
from spotctl_sandbox.playlists.service import Directory, PlaylistError, PlaylistService

__all__ = ["Action", "Actor", "Backend", "Decision", "Directory", "Invite", "MongoPlaylists", "Playlist",
           "PlaylistError", "PlaylistRepository", "PlaylistService", "PostgresDirectory", "PostgresPlaylists",
           "Relation", "ShareLink", "Visibility", "authorize", "open_repository", "relation"]

log = logging.getLogger(__name__)


async def open_repository(mongo_url: str | None, pool: AsyncConnectionPool, *,
                          timeout_ms: int = 2000) -> PlaylistRepository:
    """MongoDB if configured and reachable now (each of its waits bounded by `timeout_ms`); otherwise
    the PostgreSQL JSONB fallback."""
    if mongo_url:
        mongo = MongoPlaylists(mongo_url, timeout_ms=timeout_ms)
        try:
            await mongo.ping()
            await mongo.setup()
        except PyMongoError as exc:
            log.warning("MONGO_URL set but MongoDB does not answer (%s); playlists use PostgreSQL JSONB", exc)
            await mongo.close()
        else:
            return mongo
    return PostgresPlaylists(pool)
