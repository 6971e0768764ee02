"""Roles in PostgreSQL (`user_roles`), read at login into the token's `roles` claim, and the
bootstrap admin made at start from ADMIN_EMAIL / ADMIN_PASSWORD.

Every account has the `user` role implicitly; the table holds the others. A grant or revoke takes
effect at the user's next login (tokens carry the roles they were issued with, for at most 1 h).
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from spotctl_sandbox.common.tokens import Role

log = logging.getLogger(__name__)


async def roles_of(conn: psycopg.AsyncConnection, user_id: int) -> set[Role]:
    cur = await conn.execute("SELECT role FROM user_roles WHERE user_id = %s", (user_id,))
    return {Role.USER} | {Role(r[0]) for r in await cur.fetchall()}


async def grant(conn: psycopg.AsyncConnection, user_id: int, role: Role, by: int | None) -> bool:
    """True if the role was new."""
    cur = await conn.execute("INSERT INTO user_roles (user_id, role, granted_by) VALUES (%s, %s, %s) "
                             "ON CONFLICT DO NOTHING", (user_id, role.value, by))
    return cur.rowcount == 1


async def revoke(conn: psycopg.AsyncConnection, user_id: int, role: Role) -> bool:
    cur = await conn.execute("DELETE FROM user_roles WHERE user_id = %s AND role = %s", (user_id, role.value))
    return cur.rowcount == 1


async def ensure_admin(conn: psycopg.AsyncConnection, hasher: PasswordHasher, email: str, password: str) -> int:
    """The bootstrap admin exists, has this password and the admin role; returns its id."""
    cur = await conn.execute("SELECT id, password_hash FROM users WHERE email = %s", (email,))
    row = await cur.fetchone()
    if row is None:
        password_hash = await asyncio.to_thread(hasher.hash, password)
        cur = await conn.execute("INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s) "
                                 "ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id",
                                 (email, "admin", password_hash))
        created = await cur.fetchone()
        assert created is not None
        user_id = int(created[0])
    else:
        user_id = int(row[0])
        try:
            await asyncio.to_thread(hasher.verify, row[1], password)
        except (VerifyMismatchError, InvalidHashError):
            password_hash = await asyncio.to_thread(hasher.hash, password)
            await conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
            log.info("bootstrap admin %s: password reset from ADMIN_PASSWORD", email)
    await grant(conn, user_id, Role.ADMIN, None)
    return user_id
