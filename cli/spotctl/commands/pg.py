"""`spotctl pg`: tables with rows and size, describe a table, and read-only-by-default queries."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, emit, info, print_json, print_table

if TYPE_CHECKING:
    import psycopg

KEY = "DATABASE_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="PostgreSQL URL (default: $DATABASE_URL, then the "
                                           "stack).", show_default=False)]

app = typer.Typer(help="Inspect PostgreSQL: tables, their columns and indexes, and SQL queries.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pg", help="Inspect PostgreSQL (tables, describe, read-only queries).")


class QueryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


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


@contextmanager
def connect(url: str | None, *, read_only: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A connection in a READ ONLY transaction unless asked otherwise; SQL errors become one line."""
    import psycopg

    from spotctl.endpoints import resolve
    from spotctl.errors import SpotctlError
    from spotctl.inspect.reach import reaching, require

    target = require(KEY, resolve({KEY: url}).database_url)
    with reaching(KEY, target, psycopg.OperationalError):
        conn = psycopg.connect(target, connect_timeout=3)
    conn.read_only = read_only
    try:
        yield conn
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise SpotctlError(f"refused in a read-only transaction: {_primary(exc)}",
                           hint="re-run with --write to allow changes") from None
    except psycopg.errors.UndefinedTable as exc:
        raise SpotctlError(_primary(exc), hint="list tables with `spotctl pg tables`") from None
    except psycopg.OperationalError as exc:
        raise SpotctlError(f"postgres: {_primary(exc)}") from None
    except psycopg.Error as exc:
        raise SpotctlError(f"query failed: {_primary(exc)}") from None
    finally:
        conn.close()


def _primary(exc: Any) -> str:
    diag = getattr(exc, "diag", None)
    return (diag.message_primary if diag is not None and diag.message_primary else str(exc)).strip()


@app.command("tables")
def tables_cmd(
    schema: Annotated[str | None, typer.Option("--schema", help="Only this schema.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="count(*) each table instead of the planner's "
                                        "estimate (slower on big tables).")] = False,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Tables with row counts (estimated unless --exact) and total size on disk, indexes included."""
    from psycopg import sql

    from spotctl.inspect.values import human_bytes

    with connect(url) as conn:
        rows = conn.execute(TABLES_SQL, {"schema": schema}).fetchall()
        found = [{"schema": s, "table": t, "rows": int(n), "bytes": int(b), "rows_exact": exact}
                 for s, t, n, b in rows]
        if exact:
            for entry in found:
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(entry["schema"], entry["table"]))
                entry["rows"] = conn.execute(query).fetchone()[0]  # type: ignore[index]
    emit(found, output, ("schema", "table", "rows" if exact else "rows (est.)", "size"),
         [(f["schema"], f["table"], f["rows"], human_bytes(f["bytes"])) for f in found], title="tables")


@app.command("describe")
def describe_cmd(table: Annotated[str, typer.Argument(help="Table name, optionally schema.table.")],
                 url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """A table's columns (type, nullable, default), indexes and constraints."""
    with connect(url) as conn:
        params = {"t": table}
        columns = [{"name": n, "type": t, "nullable": nl, "default": d}
                   for n, t, nl, d in conn.execute(COLUMNS_SQL, params).fetchall()]
        indexes = [{"name": n, "definition": d} for n, d in conn.execute(INDEXES_SQL, params).fetchall()]
        constraints = [{"name": n, "definition": d}
                       for n, d in conn.execute(CONSTRAINTS_SQL, params).fetchall()]
    if output is OutputFormat.json:
        print_json({"table": table, "columns": columns, "indexes": indexes, "constraints": constraints})
        return
    print_table(("column", "type", "nullable", "default"),
                [(c["name"], c["type"], "yes" if c["nullable"] else "no", c["default"]) for c in columns],
                title=table)
    if indexes:
        print_table(("index", "definition"), [(i["name"], i["definition"]) for i in indexes])
    if constraints:
        print_table(("constraint", "definition"), [(c["name"], c["definition"]) for c in constraints])


@app.command("query")
def query_cmd(
    sql_text: Annotated[str, typer.Argument(metavar="SQL", help="The statement; '-' reads it from stdin.")],
    write: Annotated[bool, typer.Option("--write", help="Allow changes (default: a READ ONLY transaction, "
                                        "rolled back at the end).")] = False,
    url: UrlOpt = None,
    output: Annotated[QueryFormat, typer.Option("--output", "-o", help="table, json or csv.")] = QueryFormat.table,
) -> None:
    """Run SQL. Read-only unless --write; with --write the transaction is committed.

    Several statements run in one transaction; the last result set is shown (as `psql -c` does).
    """
    from spotctl.errors import UsageError
    from spotctl.inspect.tabular import records, to_csv

    text = sys.stdin.read() if sql_text == "-" else sql_text
    if not text.strip():
        raise UsageError("no SQL given")
    with connect(url, read_only=not write) as conn:
        cur = conn.execute(text.encode())  # user SQL is the point of this command
        columns, rows = [], []
        while True:  # several statements: like psql -c, show the last result set
            if cur.description:
                columns, rows = [d.name for d in cur.description], cur.fetchall()
            status, rowcount = cur.statusmessage, cur.rowcount
            if not cur.nextset():
                break
        if write:
            conn.commit()
        else:
            conn.rollback()
    if output is QueryFormat.json:
        print_json({"columns": columns, "rows": records(columns, rows), "rowcount": rowcount, "status": status})
    elif output is QueryFormat.csv:
        sys.stdout.write(to_csv(columns, rows))
    elif columns:
        from spotctl.inspect.values import cell

        print_table(columns, [[cell(v) for v in row] for row in rows])
        info(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")
    else:
        info(status or "ok")
