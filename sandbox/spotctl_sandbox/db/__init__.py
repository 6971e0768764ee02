"""The PostgreSQL schema and its migration, shared by the API, the seed and the workers.

`migrate` runs schema.sql (idempotent) under a transaction-scoped advisory lock, so services that
start together do not race on CREATE ... IF NOT EXISTS.
"""

from __future__ import annotations

from importlib import resources

import psycopg

__all__ = ["MIGRATION_LOCK_ID", "amigrate", "migrate", "schema_sql"]

MIGRATION_LOCK_ID = 0x5_907_C71  # any constant shared by every migrating process


def schema_sql() -> str:
    return resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")


def migrate(conn: psycopg.Connection) -> None:
    """Apply the schema on a sync connection (the seed command, tests, workers)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute(schema_sql().encode())


async def amigrate(conn: psycopg.AsyncConnection) -> None:
    """Apply the schema on an async connection (the API at start-up)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        await conn.execute(schema_sql().encode())
