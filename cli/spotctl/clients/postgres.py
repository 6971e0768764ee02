"""PostgreSQL (psycopg 3): tables, a table's description, SQL — read-only unless asked otherwise.

`spotctl pg` and the guide's postgres checks query through here. A statement refused in a read-only
transaction, a missing table or a syntax error is one line naming what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spotctl.clients.reach import reaching, require
from spotctl.errors import SpotctlError

if TYPE_CHECKING:
    import psycopg

KEY = "DATABASE_URL"

TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name,
       COALESCE(s.n_live_tup, GREATEST(c.reltuples, 0))::bigint AS rows,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%' AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s)
ORDER BY 1, 2
"""
COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %(t)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i WHERE i.indrelid = %(t)s::regclass ORDER BY 1
"""
CONSTRAINTS_SQL = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %(t)s::regclass ORDER BY 1
"""


@dataclass(frozen=True)
class QueryResult:
    """The last result set of a run of statements (as `psql -c` shows it), with its status line."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    status: str | None
    rowcount: int
    truncated: bool = False  # more rows than the limit asked for
    affected: int = 0  # rows inserted, updated, deleted, merged or copied by all the statements


class PgClient:
    """One connection. `read_only` runs every statement in a READ ONLY transaction (rolled back);
    `autocommit` makes each statement see what others committed since (for polling checks)."""

    def __init__(self, url: str, *, read_only: bool = True, autocommit: bool = False) -> None:
        import psycopg

        self.url = require(KEY, url)
        with reaching(KEY, self.url, psycopg.OperationalError):
            self.conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(self.url, connect_timeout=3,
                                                                            autocommit=autocommit)
        self.conn.read_only = read_only
        self.read_only = read_only

    def __enter__(self) -> PgClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def calls(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        import psycopg

        try:
            yield self.conn
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise SpotctlError(f"refused in a read-only transaction: {_primary(exc)}",
                               hint="re-run with --write to allow changes") from None
        except psycopg.errors.UndefinedTable as exc:
            raise SpotctlError(_primary(exc), hint="list tables with `spotctl pg tables`") from None
        except psycopg.OperationalError as exc:
            raise SpotctlError(f"postgres: {_primary(exc)}") from None
        except psycopg.Error as exc:
            raise SpotctlError(f"query failed: {_primary(exc)}") from None

    def tables(self, schema: str | None = None, exact: bool = False) -> list[dict[str, Any]]:
        """Tables with row counts (the planner's estimate unless `exact`) and total size on disk."""
        from psycopg import sql

        with self.calls() as conn:
            rows = conn.execute(TABLES_SQL, {"schema": schema}).fetchall()
            found = [{"schema": s, "table": t, "rows": int(n), "bytes": int(b), "rows_exact": exact}
                     for s, t, n, b in rows]
            if exact:
                for entry in found:
                    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(entry["schema"], entry["table"]))
                    counted = conn.execute(query).fetchone()
                    entry["rows"] = int(counted[0]) if counted else 0
        return found

    def describe(self, table: str) -> dict[str, Any]:
        """A table's columns (type, nullable, default), indexes and constraints."""
        params = {"t": table}
        with self.calls() as conn:
            columns = [{"name": n, "type": t, "nullable": nl, "default": d}
                       for n, t, nl, d in conn.execute(COLUMNS_SQL, params).fetchall()]
            indexes = [{"name": n, "definition": d} for n, d in conn.execute(INDEXES_SQL, params).fetchall()]
            constraints = [{"name": n, "definition": d}
                           for n, d in conn.execute(CONSTRAINTS_SQL, params).fetchall()]
        return {"table": table, "columns": columns, "indexes": indexes, "constraints": constraints}

    def query(self, text: str, limit: int | None = None, *, commit: bool = True) -> QueryResult:
        """Run the user's SQL (several statements in one transaction); committed unless read-only, or
        left open with `commit=False` (then `commit()` or `rollback()` it, e.g. after asking).

        With `limit`, at most that many rows are fetched (`truncated` says whether more were there)."""
        from spotctl.inspect.tabular import affected_rows

        truncated, affected = False, 0
        with self.calls() as conn:
            cur = conn.execute(text.encode())  # user SQL is the point of this call
            columns: list[str] = []
            rows: list[tuple[Any, ...]] = []
            while True:  # several statements: like psql -c, keep the last result set
                if cur.description:
                    columns = [d.name for d in cur.description]
                    rows = cur.fetchall() if limit is None else cur.fetchmany(limit + 1)
                    truncated = limit is not None and len(rows) > limit
                    rows = rows[:limit] if limit is not None else rows
                status, rowcount = cur.statusmessage, cur.rowcount
                affected += affected_rows(status)
                if not cur.nextset():
                    break
            if self.read_only:
                conn.rollback()
            elif commit:
                conn.commit()
        return QueryResult(columns, rows, status, rowcount, truncated, affected)

    def commit(self) -> None:
        with self.calls() as conn:
            conn.commit()

    def rollback(self) -> None:
        with self.calls() as conn:
            conn.rollback()

    def documents(self, table: str, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """A JSONB document table (`id`, `doc`, like the playlists' fallback store): how many documents,
        and the newest `limit` of them as documents with their `_id` (what a MongoDB find shows)."""
        from psycopg import sql

        name = sql.Identifier(*table.split(".", 1))
        with self.calls() as conn:
            counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
            found = conn.execute(sql.SQL("SELECT jsonb_build_object('_id', id) || doc FROM {} "
                                         "ORDER BY updated_at DESC NULLS LAST LIMIT %s").format(name),
                                 (limit,)).fetchall()
        return (int(counted[0]) if counted else 0), [dict(row[0]) for row in found]

    def rows(self, text: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        """A parametrised query's rows as {column: value} (no result set: no rows)."""
        from psycopg.rows import dict_row

        with self.calls() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(text.encode(), params)
            return cur.fetchall() if cur.description else []


def _primary(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    return str(diag.message_primary if diag is not None and diag.message_primary else exc).strip()
