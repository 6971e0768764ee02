"""PostgreSQL: tables with their estimated rows and size (`spotctl pg tables`); Enter describes one
(`spotctl pg describe`); `e` opens a read-only SQL box whose first 200 rows open as a table
(`spotctl pg query SQL --limit 200`: a READ ONLY transaction, rolled back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from spotctl.inspect.values import cell, human_bytes
from spotctl.tui import data
from spotctl.tui.components.base import problem
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources


class PgScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("e", "sql", "SQL")]
    COLUMNS = ("table", "rows (est.)", "size")
    HEADING = "postgresql tables"
    INTERVAL_S = 10.0

    def fetch(self) -> list[Row]:
        return [(f"{t['schema']}.{t['table']}" if t["schema"] != "public" else t["table"], t["rows"], t["bytes"])
                for t in data.pg_tables(self.sources)]

    def cells(self, row: Row) -> Sequence[Any]:
        name, rows, size = row
        return (Text(name), Text(str(rows)), Text(human_bytes(size)))

    def below(self) -> ComposeResult:
        yield Input(placeholder=f"SELECT … (read-only, first {data.QUERY_LIMIT} rows; enter runs, escape closes)",
                    id="sql", classes="hidden")

    def drill(self, key: str) -> None:
        self.app.push_screen(DescribeScreen(self.sources, key))

    def action_sql(self) -> None:
        box = self.query_one("#sql", Input)
        box.remove_class("hidden")
        box.focus()

    def action_back(self) -> None:
        box = self.query_one("#sql", Input)
        if box.has_focus:
            box.add_class("hidden")
            self.grid.focus()
        else:
            super().action_back()

    @on(Input.Submitted, "#sql")
    def run_sql(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.say(f"running {escape(event.value.strip()[:60])}…")
            self.query_rows(event.value)

    @work(thread=True, exclusive=True, group="sql")
    def query_rows(self, text: str) -> None:
        try:
            result = data.pg_query(self.sources, text)
        except Exception as exc:
            self.app.call_from_thread(self.say, f"[bold red]{escape(problem(exc))}[/]")
            return
        self.app.call_from_thread(self._results, text, result)

    def _results(self, text: str, result: Any) -> None:
        if not result.columns:
            self.say(escape(result.status or "ok"))
            return
        self.say("")
        self.app.push_screen(ResultScreen(self.sources, text, result.columns, result.rows, result.truncated))


class ResultScreen(TableScreen):
    """A query's rows (one row per line; Enter shows a row in full)."""

    INTERVAL_S = 0

    def __init__(self, sources: Sources, text: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                 truncated: bool) -> None:
        self.COLUMNS = ("#", *columns)
        super().__init__(sources)
        self.columns = list(columns)
        self.result: list[Row] = [(i, *r) for i, r in enumerate(rows, 1)]
        more = f", the first {data.QUERY_LIMIT}" if truncated else ""
        self.HEADING = f"{' '.join(text.split())[:70]}{more}"

    def fetch(self) -> list[Row]:
        return self.result

    def cells(self, row: Row) -> Sequence[Any]:
        return [Text(cell(v, 60)) for v in row]

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        row = next((r for r in self.result if str(r[0]) == key), None)
        if row is not None:
            self.app.push_screen(DetailScreen(self.sources, f"row {key}", dict(zip(self.columns, row[1:],
                                                                                  strict=True))))


class DescribeScreen(TableScreen):
    """`spotctl pg describe TABLE`: columns, then indexes and constraints."""

    COLUMNS = ("name", "kind", "type / definition", "null", "default")
    INTERVAL_S = 0

    def __init__(self, sources: Sources, table: str) -> None:
        super().__init__(sources)
        self.table = table
        self.HEADING = f"table {table}"

    def fetch(self) -> list[Row]:
        d = data.pg_describe(self.sources, self.table)
        return ([(c["name"], "column", c["type"], "yes" if c["nullable"] else "no", c["default"] or "")
                 for c in d["columns"]]
                + [(i["name"], "index", i["definition"], "", "") for i in d["indexes"]]
                + [(c["name"], "constraint", c["definition"], "", "") for c in d["constraints"]])
