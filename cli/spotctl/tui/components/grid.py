"""A data table that keeps its rows aside and shows them filtered and sorted (k9s: `/` filters, `s` sorts).

Rows are raw values (numbers stay numbers, so they sort as numbers); `cells` turns a row into what is
shown. The first value of a row is its key: the cursor stays on it across refreshes, filters and sorts
(two rows may share a key: the table itself numbers them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.widgets import DataTable

Row = Sequence[Any]


def plain_cells(row: Row) -> list[Any]:
    """Values as plain text: names and data from the stores are never read as markup."""
    return [v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in row]


def sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers (and numeric text) before words, each in its natural order; blanks last."""
    if value is None or value == "":
        return (2, 0.0, "")
    if isinstance(value, bool):
        return (1, 0.0, str(value))
    if isinstance(value, int | float):
        return (0, float(value), "")
    text = str(value)
    try:
        return (0, float(text.rstrip("%")), "")
    except ValueError:
        return (1, 0.0, text.lower())


class Grid(DataTable[Any]):
    def __init__(self, columns: Sequence[str], *, cells: Callable[[Row], Sequence[Any]] = plain_cells,
                 id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.columns_shown = tuple(columns)
        self.cells_of = cells
        self.rows_kept: list[Row] = []
        self.needle = ""
        self.sort_column: int | None = None
        self.descending = False

    def on_mount(self) -> None:
        self.add_columns(*self.columns_shown)

    # -- what is shown ----------------------------------------------------------------------------------

    def show(self, rows: Sequence[Row]) -> None:
        """Keep `rows` and redraw them (filtered, sorted), the cursor staying on its row."""
        self.rows_kept = list(rows)
        self.redraw()

    def shown_rows(self) -> list[Row]:
        rows = [r for r in self.rows_kept if self._matches(r)]
        if self.sort_column is not None and self.sort_column < len(self.columns_shown):
            col = self.sort_column
            rows.sort(key=lambda r: sort_key(r[col] if col < len(r) else None), reverse=self.descending)
        return rows

    def _matches(self, row: Row) -> bool:
        if not self.needle:
            return True
        needle = self.needle.lower()
        return any(needle in str(v).lower() for v in row)

    def redraw(self) -> None:
        selected = self.selected_key()
        self.clear()
        self._shown = self.shown_rows()
        for index, row in enumerate(self._shown):
            self.add_row(*self.cells_of(row), key=str(index))
        keys = [str(r[0]) for r in self._shown]
        if selected in keys:
            self.move_cursor(row=keys.index(selected))

    def selected_row(self) -> Row | None:
        shown = getattr(self, "_shown", [])
        if not self.row_count or not 0 <= self.cursor_row < len(shown):
            return None
        return shown[self.cursor_row]

    def selected_key(self) -> str | None:
        row = self.selected_row()
        return None if row is None else str(row[0])

    def key_of(self, row_key: str | None) -> str | None:
        """The first cell of the row the table knows as `row_key` (from a RowSelected event)."""
        shown = getattr(self, "_shown", [])
        if row_key is None or not row_key.isdigit() or int(row_key) >= len(shown):
            return None
        return str(shown[int(row_key)][0])

    # -- filter and sort ---------------------------------------------------------------------------------

    def filter(self, needle: str) -> None:
        self.needle = needle.strip()
        self.redraw()

    def sort_on(self, column: int) -> None:
        """Sort by `column`; again on the same column flips the order."""
        if self.sort_column == column:
            self.descending = not self.descending
        else:
            self.sort_column, self.descending = column, False
        self.redraw()

    def cycle_sort(self) -> None:
        """The next column (k9s-like `s`): unsorted → first column → ... → last → unsorted."""
        nxt = 0 if self.sort_column is None else self.sort_column + 1
        self.sort_column, self.descending = (nxt, False) if nxt < len(self.columns_shown) else (None, False)
        self.redraw()

    def flip_sort(self) -> None:
        if self.sort_column is not None:
            self.descending = not self.descending
            self.redraw()

    @on(DataTable.HeaderSelected)
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_on(event.column_index)

    def summary(self) -> str:
        """`12 of 40 rows, sorted by STATE ↓, filter "x"` (plain text: the caller escapes it)."""
        shown, total = self.row_count, len(self.rows_kept)
        parts = [f"{shown} of {total} rows" if self.needle else f"{total} row{'s' if total != 1 else ''}"]
        if self.sort_column is not None:
            parts.append(f"by {self.columns_shown[self.sort_column]} {'↓' if self.descending else '↑'}")
        if self.needle:
            parts.append(f"/{self.needle}")
        return ", ".join(parts)
