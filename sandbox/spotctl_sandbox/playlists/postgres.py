"""Playlists as JSONB rows in PostgreSQL: the documented fallback when the runtime has no MongoDB.

Table `playlists` (see db/schema.sql): id, user_id (owner), doc jsonb, created_at, updated_at; a
GIN index on `doc` (jsonb_path_ops) answers "where is this user a collaborator or invitee".
Inside a unit of work (spotctl_sandbox.db.unit: the API's write routes) every statement runs in the
unit's transaction, so a playlist change commits with its outbox events and idempotency record.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.db.unit import connection
from spotctl_sandbox.playlists.model import Playlist
from spotctl_sandbox.playlists.repository import Backend


class PostgresPlaylists:
    backend = Backend.POSTGRES_JSONB

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def insert(self, playlist: Playlist) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                "INSERT INTO playlists (id, user_id, doc, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                (playlist.id, int(playlist.user_id), Jsonb(playlist.document()), playlist.created_at,
                 playlist.updated_at))

    async def get(self, playlist_id: str) -> Playlist | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT doc FROM playlists WHERE id = %s", (playlist_id,))
            row = await cur.fetchone()
        return Playlist.from_document(row[0]) if row else None

    async def list_for_user(self, user_id: str, limit: int = 100) -> list[Playlist]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT doc FROM playlists WHERE user_id = %s OR doc @> %s OR doc @> %s "
                "ORDER BY created_at DESC LIMIT %s",
                (int(user_id), Jsonb({"collaborators": [user_id]}), Jsonb({"invites": [{"user_id": user_id}]}),
                 limit))
            rows = await cur.fetchall()
        return [Playlist.from_document(r[0]) for r in rows]

    async def replace(self, playlist: Playlist, expected_version: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "UPDATE playlists SET doc = %s, updated_at = %s "
                "WHERE id = %s AND COALESCE((doc->>'version')::bigint, 0) = %s",
                (Jsonb(playlist.document()), playlist.updated_at, playlist.id, expected_version))
            return cur.rowcount == 1

    async def delete(self, playlist_id: str) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute("DELETE FROM playlists WHERE id = %s", (playlist_id,))
            return cur.rowcount == 1

    async def ping(self) -> None:
        async with connection(self.pool) as conn:
            await conn.execute("SELECT 1 FROM playlists LIMIT 1")

    async def close(self) -> None:
        """The pool belongs to the API; nothing of our own to close."""
