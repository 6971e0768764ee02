"""Who hears about alerts on the hub: users with an ops or admin role, plus the OPS_USERS list.

Roles: until JWT role claims land (api-sec, `common/tokens.py`), a `role` (text) or `roles` (text[])
column on `users` is read when the schema has one; OPS_USERS (ids or emails) works either way. The
last answer is kept, so an alert about PostgreSQL itself still reaches the people it found before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import psycopg

log = logging.getLogger(__name__)

ROLES = ("ops", "admin")
ROLE_COLUMNS = """
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'users' AND column_name IN ('role', 'roles')
"""
BY_ID_OR_EMAIL = "SELECT id::text FROM users WHERE id::text = ANY(%s) OR lower(email) = ANY(%s)"
BY_ROLE = "SELECT id::text FROM users WHERE lower(role) = ANY(%s)"
BY_ROLES = "SELECT id::text FROM users WHERE roles && %s::text[]"


class OpsDirectory:
    def __init__(self, database_url: str, configured: Sequence[str], ttl_s: float = 30.0) -> None:
        self.database_url = database_url
        self.configured = tuple(configured)
        self.ttl_s = ttl_s
        self._known: list[str] = [u for u in self.configured if u.isdigit()]
        self._fetched_at = 0.0

    async def users(self) -> list[str]:
        """User ids, freshly looked up at most every `ttl_s`; the last good answer when the lookup fails."""
        if time.monotonic() - self._fetched_at < self.ttl_s:
            return list(self._known)
        try:
            self._known = await self._lookup()
            self._fetched_at = time.monotonic()
        except psycopg.Error as exc:
            log.warning("monitor: cannot look up ops users (%s); using the last known %d", exc, len(self._known))
        return list(self._known)

    async def _lookup(self) -> list[str]:
        found: set[str] = set()
        async with await psycopg.AsyncConnection.connect(self.database_url, connect_timeout=2,
                                                         autocommit=True) as conn:
            if self.configured:
                rows = await (await conn.execute(BY_ID_OR_EMAIL, (list(self.configured),
                                                                  [u.lower() for u in self.configured]))).fetchall()
                found.update(r[0] for r in rows)
            for column, kind in await (await conn.execute(ROLE_COLUMNS)).fetchall():
                query = BY_ROLES if (column, kind) == ("roles", "ARRAY") else BY_ROLE if column == "role" else None
                if query:
                    rows = await (await conn.execute(query, (list(ROLES),))).fetchall()
                    found.update(r[0] for r in rows)
        return sorted(found, key=lambda u: (len(u), u))
