"""Load the catalogue with COPY into temporary tables, then INSERT ... ON CONFLICT DO NOTHING.

COPY keeps 10k songs well under the 10 s budget; going through a staging table is what lets a
re-run skip rows that already exist instead of failing or duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql


def upsert_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
                rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows into a staging copy of `table` and insert the new ones; returns how many were new."""
    stage = sql.Identifier(f"stage_{table}")
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                    .format(stage, cols, sql.Identifier(table)))
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, cols)) as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING")
                    .format(sql.Identifier(table), cols, cols, stage))
        return cur.rowcount


def count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0
