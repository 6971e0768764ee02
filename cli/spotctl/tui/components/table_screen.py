"""A screen that is one live table: rows fetched in a thread worker, refreshed on a timer and on `r`;
`/` filters, `s` sorts by the next column (`S` flips, a click on a header sorts by it), Enter opens the
row (`drill`), escape comes back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Static

from spotctl.tui.components.base import SpotctlScreen, problem
from spotctl.tui.components.grid import Grid, Row, plain_cells

__all__ = ["Row", "TableScreen"]


class TableScreen(SpotctlScreen):
    BINDINGS = [
        *SpotctlScreen.BINDINGS,
        Binding("enter", "drill", "Open"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "flip_sort", "Reverse sort", show=False),
        Binding("r", "refresh", "Refresh", show=False),
    ]
    COLUMNS: tuple[str, ...] = ()
    INTERVAL_S = 5.0  # 0: no timer (a drill-down screen that reads once; r reads again)

    class Loaded(Message):
        """Rows from the worker (keys are the first cell), or the error that stopped it."""

        def __init__(self, rows: list[Row], error: str = "") -> None:
            super().__init__()
            self.rows, self.error = rows, error

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(escape(self.HEADING), id="status", classes="status")
        yield from self.above()
        yield Input(placeholder="filter: text to keep (enter keeps it, escape clears)", id="filter",
                    classes="hidden")
        yield Grid(self.COLUMNS, cells=self.cells, id="table")
        yield from self.below()
        yield Footer(compact=True, show_command_palette=False)

    def above(self) -> ComposeResult:
        """Widgets between the status line and the table (the hub's workers and charts)."""
        yield from ()

    def below(self) -> ComposeResult:
        """Widgets under the table (the SQL box)."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one(Grid).focus()
        self.action_refresh()
        if self.INTERVAL_S:
            self.set_interval(self.INTERVAL_S, self.action_refresh)

    @property
    def grid(self) -> Grid:
        return self.query_one(Grid)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drill" and type(self).drill is TableScreen.drill:
            return False  # nothing to open here: keep Enter off the footer
        return super().check_action(action, parameters)

    # -- rows ----------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="table")
    def load(self) -> None:
        try:
            rows = self.fetch()
        except Exception as exc:  # a store down is a status line, never a crash
            self.post_message(self.Loaded([], problem(exc)))
        else:
            self.post_message(self.Loaded(rows))

    def fetch(self) -> list[Row]:
        raise NotImplementedError

    def cells(self, row: Row) -> Sequence[Any]:
        """Cells as plain text: names and values from the stores are never read as markup."""
        return plain_cells(row)

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        if message.error:
            self.show_status(message.error)
            return
        self.grid.show(message.rows)
        self.show_status()

    def status_text(self) -> str:
        every = f", every {self.INTERVAL_S:g} s" if self.INTERVAL_S else ""
        return f"{escape(self.HEADING)} [dim]({escape(self.grid.summary())}{every})[/]"

    def selected_key(self) -> str | None:
        return self.grid.selected_key()

    # -- k9s habits --------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#filter")
    def refilter(self, event: Input.Changed) -> None:
        self.grid.filter(event.value)
        self.show_status()

    @on(Input.Submitted, "#filter")
    def keep_filter(self, event: Input.Submitted) -> None:
        self.grid.focus()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus or box.value:
            box.value = ""
            box.add_class("hidden")
            self.grid.focus()
        else:
            super().action_back()

    def action_sort(self) -> None:
        self.grid.cycle_sort()
        self.show_status()

    def action_flip_sort(self) -> None:
        self.grid.flip_sort()
        self.show_status()

    @on(DataTable.RowSelected, "#table")
    def selected(self, event: DataTable.RowSelected) -> None:
        if key := self.grid.key_of(event.row_key.value):
            self.drill(key)

    def action_drill(self) -> None:
        if key := self.selected_key():
            self.drill(key)

    def drill(self, key: str) -> None:
        """Open the row whose first cell is `key` (a screen of its own, pushed: escape comes back)."""
