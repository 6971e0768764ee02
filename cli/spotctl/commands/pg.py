"""`spotctl pg`: tables with rows and size, describe a table, and read-only-by-default queries."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from spotctl.output import OutputFormat, OutputOpt, emit, info, print_json, print_table

if TYPE_CHECKING:
    from spotctl.clients.postgres import PgClient

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


@contextmanager
def connect(url: str | None, *, read_only: bool = True) -> Iterator[PgClient]:
    """The PostgreSQL client for `--url`, else $DATABASE_URL, else the stack's (read-only by default)."""
    from spotctl.clients.postgres import PgClient
    from spotctl.endpoints import resolve

    with PgClient(resolve({KEY: url}).database_url, read_only=read_only) as client:
        yield client


@app.command("tables")
def tables_cmd(
    schema: Annotated[str | None, typer.Option("--schema", help="Only this schema.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="count(*) each table instead of the planner's "
                                        "estimate (slower on big tables).")] = False,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Tables with row counts (estimated unless --exact) and total size on disk, indexes included."""
    from spotctl.inspect.values import human_bytes

    with connect(url) as pg:
        found = pg.tables(schema, exact)
    emit(found, output, ("schema", "table", "rows" if exact else "rows (est.)", "size"),
         [(f["schema"], f["table"], f["rows"], human_bytes(f["bytes"])) for f in found], title="tables")


@app.command("describe")
def describe_cmd(table: Annotated[str, typer.Argument(help="Table name, optionally schema.table.")],
                 url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """A table's columns (type, nullable, default), indexes and constraints."""
    with connect(url) as pg:
        described = pg.describe(table)
    if output is OutputFormat.json:
        print_json(described)
        return
    columns, indexes, constraints = described["columns"], described["indexes"], described["constraints"]
    print_table(("column", "type", "nullable", "default"),
                [(c["name"], c["type"], "yes" if c["nullable"] else "no", c["default"]) for c in columns],
                title=table)
    if indexes:
        print_table(("index", "definition"), [(i["name"], i["definition"]) for i in indexes])
    if constraints:
        print_table(("constraint", "definition"), [(c["name"], c["definition"]) for c in constraints])


DEFAULT_LIMIT = 500  # rows shown unless --limit/--all: a table of 10,000 rows takes seconds to draw


@app.command("query")
def query_cmd(
    sql_text: Annotated[str, typer.Argument(metavar="SQL", help="The statement; '-' reads it from stdin.")],
    write: Annotated[bool, typer.Option("--write", help="Allow changes (default: a READ ONLY transaction, "
                                        "rolled back at the end); asks before committing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Commit a --write without asking (needed off a "
                                      "terminal).")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N rows (fetches no "
                                       "more).")] = DEFAULT_LIMIT,
    all_rows: Annotated[bool, typer.Option("--all", help="Show every row (no --limit).")] = False,
    url: UrlOpt = None,
    output: Annotated[QueryFormat, typer.Option("--output", "-o", help="table, json or csv.")] = QueryFormat.table,
) -> None:
    """Run SQL. Read-only unless --write; a --write shows the rows it changed and asks before committing.

    Several statements run in one transaction; the last result set is shown (as `psql -c` does), at most
    --limit rows of it.
    """
    from spotctl.errors import UsageError
    from spotctl.inspect.tabular import records, to_csv
    from spotctl.output import confirm, is_interactive

    text = sys.stdin.read() if sql_text == "-" else sql_text
    if not text.strip():
        raise UsageError("no SQL given")
    if write and not yes and not is_interactive():
        confirm("run SQL with --write", yes)  # refuses before anything runs
    with connect(url, read_only=not write) as pg:
        result = pg.query(text, None if all_rows else limit, commit=False)
        if write:
            changed = f"{result.affected} row{'s' if result.affected != 1 else ''}"
            if not yes:
                info(f"{result.status or 'ok'}: {changed} changed, not committed yet")
            confirm(f"commit ({changed} changed)", yes)  # no: the connection closes, the transaction rolls back
            pg.commit()
    columns, rows, status = result.columns, result.rows, result.status
    more = f"; the first {limit} shown (--limit N, --all)" if result.truncated else ""
    if output is QueryFormat.json:
        print_json({"columns": columns, "rows": records(columns, rows), "rowcount": result.rowcount,
                    "truncated": result.truncated, "status": status, "affected": result.affected,
                    "committed": write})
    elif output is QueryFormat.csv:
        sys.stdout.write(to_csv(columns, rows))
        if more:
            info(f"{len(rows)} rows{more}")
    elif columns:
        from spotctl.inspect.values import cell

        print_table(columns, [[cell(v) for v in row] for row in rows])
        info(f"{len(rows)} row{'s' if len(rows) != 1 else ''}{more}")
    if write and output is not QueryFormat.json:
        info(f"{status or 'ok'}: {result.affected} row{'s' if result.affected != 1 else ''} changed, committed")
    elif not columns and output is QueryFormat.table:
        info(status or "ok")
