"""The playlist rules' view of users and songs, from PostgreSQL (`users`, `songs`): shared by the
API and the hub, which both hold a pool on the same database."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.db.unit import connection

MAX_ID = 2**63 - 1


class PostgresDirectory:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def missing_users(self, user_ids: Iterable[str]) -> list[str]:
        wanted = {u for u in user_ids}
        ids = [int(u) for u in wanted if u.isascii() and u.isdigit() and 0 < int(u) <= MAX_ID]
        found: set[str] = set()
        if ids:
            async with connection(self.pool) as conn:
                cur = await conn.execute("SELECT id FROM users WHERE id = ANY(%s)", (ids,))
                found = {str(r[0]) for r in await cur.fetchall()}
        return sorted(wanted - found)

    async def missing_songs(self, song_ids: Iterable[int]) -> list[int]:
        wanted = set(song_ids)
        ids = [s for s in wanted if 0 < s <= MAX_ID]
        found: set[int] = set()
        if ids:
            async with connection(self.pool) as conn:
                cur = await conn.execute("SELECT id FROM songs WHERE id = ANY(%s)", (ids,))
                found = {r[0] for r in await cur.fetchall()}
        return sorted(wanted - found)
