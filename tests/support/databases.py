"""Databases of a test's own on the stack's PostgreSQL server: made empty, dropped after (FORCE: what
the test started may still hold connections to it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


@contextmanager
def empty_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database beside `server_url`'s, named `<prefix>_<random>`."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield server_url.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
