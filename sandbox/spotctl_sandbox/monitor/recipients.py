"""Who hears about alerts on the hub: users with an ops or admin role, plus the OPS_USERS list.

Roles are api-sec's `user_roles` table (what login puts in the token's `roles` claim), read when the
schema has it; OPS_USERS (ids or emails) works either way. The last answer is kept, so an alert about
PostgreSQL itself still reaches the people found before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import psycopg

log = logging.getLogger(__name__)

ROLES = ("ops", "admin")
BY_ID_OR_EMAIL = "SELECT id::text FROM users WHERE id::text = ANY(%s) OR lower(email) = ANY(%s)"
HAS_ROLES = "SELECT to_regclass('user_roles') IS NOT NULL"
BY_ROLE = "SELECT DISTINCT user_id::text FROM user_roles WHERE role = ANY(%s)"


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
            has_roles = await (await conn.execute(HAS_ROLES)).fetchone()
            if has_roles and has_roles[0]:
                rows = await (await conn.execute(BY_ROLE, (list(ROLES),))).fetchall()
                found.update(r[0] for r in rows)
        return sorted(found, key=lambda u: (len(u), u))
