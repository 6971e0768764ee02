"""A screen that is one live table: rows fetched in a thread worker, refreshed on a timer and on `r`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from spotctl.clients.reach import short
from spotctl.tui.data import Sources

Row = Sequence[Any]


class TableScreen(Screen[None]):
    BINDINGS = [Binding("r", "refresh", "Refresh")]
    COLUMNS: tuple[str, ...] = ()
    INTERVAL_S = 5.0
    HEADING = ""

    class Loaded(Message):
        """Rows from the worker (keys are the first cell), or the error that stopped it."""

        def __init__(self, rows: list[Row], error: str = "") -> None:
            super().__init__()
            self.rows, self.error = rows, error

    def __init__(self, sources: Sources) -> None:
        super().__init__()
        self.sources = sources
        self.note = ""  # the outcome of the last action, kept on the status line across refreshes

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.HEADING, id="status", classes="status")
        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*self.COLUMNS)
        self.action_refresh()
        self.set_interval(self.INTERVAL_S, self.action_refresh)

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="table")
    def load(self) -> None:
        try:
            rows = self.fetch()
        except Exception as exc:  # a store down is a status line, never a crash
            self.post_message(self.Loaded([], short(exc) or type(exc).__name__))
        else:
            self.post_message(self.Loaded(rows))

    def fetch(self) -> list[Row]:
        raise NotImplementedError

    def cells(self, row: Row) -> Sequence[Any]:
        """Cells as plain text: names and values from the stores are never read as markup."""
        return [Text(str(v)) for v in row]

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        status = self.query_one("#status", Static)
        if message.error:
            status.update(f"[red]{self.HEADING}: {escape(message.error)}[/]")
            return
        table = self.query_one(DataTable)
        selected = self.selected_key()
        table.clear()
        for row in message.rows:
            table.add_row(*self.cells(row), key=str(row[0]))
        keys = [str(r[0]) for r in message.rows]
        if selected in keys:
            table.move_cursor(row=keys.index(selected))
        note = f"  {self.note}" if self.note else ""
        status.update(f"{self.HEADING} [dim]({len(message.rows)} rows, every {self.INTERVAL_S:g} s; r refreshes)[/]"
                      f"{note}")

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)
