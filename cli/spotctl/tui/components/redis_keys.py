"""Redis key browser: SCAN by pattern on the left (the pattern is this screen's `/` filter), the highlighted
key's value (type-aware, with TTL) on the right, as `spotctl redis keys` and `spotctl redis get` show
them; `d` deletes the key after `spotctl redis del`'s question, `s` sorts the keys."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.pretty import Pretty
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Static

from spotctl.inspect.redis_view import KeyRow
from spotctl.inspect.values import cell, human_ttl
from spotctl.tui import data
from spotctl.tui.components.base import SpotctlScreen, problem
from spotctl.tui.components.grid import Grid, Row
from spotctl.tui.data import Sources


def key_cells(row: Row) -> list[Any]:
    key, kind, ttl = row
    return [Text(key), Text(kind), Text(human_ttl(ttl))]


class RedisScreen(SpotctlScreen):
    BINDINGS = [Binding("slash", "pattern", "Pattern"), Binding("s", "sort", "Sort"),
                Binding("r", "scan", "Rescan", show=False), Binding("d", "delete", "Delete"),
                Binding("escape", "leave_pattern", "Keys", show=False)]
    WRITES = frozenset({"delete"})
    HEADING = "redis"

    class Keys(Message):
        def __init__(self, keys: list[KeyRow], truncated: bool, error: str = "") -> None:
            super().__init__()
            self.keys, self.truncated, self.error = keys, truncated, error

    class Value(Message):
        def __init__(self, key: str, view: Any, error: str = "") -> None:
            super().__init__()
            self.key, self.view, self.error = key, view, error

    def __init__(self, sources: Sources, pattern: str = "*") -> None:
        super().__init__(sources)
        self.pattern = pattern
        self.summary = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(self.pattern, placeholder="key pattern, e.g. song:*  (enter scans)", id="pattern")
        yield Static("", id="status", classes="status")
        with Horizontal(id="panes"):
            yield Grid(("key", "type", "ttl"), cells=key_cells, id="keys")
            with Vertical(id="value-pane"):
                yield Static("highlight a key to see its value", id="heading")
                yield DataTable(id="value", cursor_type="row")
                yield Static("", id="text-value", classes="hidden")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#keys", Grid).focus()  # digits switch screens; the pattern box takes keys after `/`
        self.action_scan()

    def action_pattern(self) -> None:
        self.query_one("#pattern", Input).focus()

    def action_leave_pattern(self) -> None:
        self.query_one("#keys", Grid).focus()

    def action_sort(self) -> None:
        self.query_one("#keys", Grid).cycle_sort()
        self.show_status()

    def action_scan(self) -> None:
        self.query_one("#status", Static).update(f"scanning {escape(self.pattern)}…")
        self.scan(self.pattern)

    def action_delete(self) -> None:
        key = self.query_one("#keys", Grid).selected_key()
        if key is not None:
            self.confirmed(lambda: data.redis_delete_question(self.sources, [key]),
                           lambda: f"deleted {data.redis_delete(self.sources, [key])} key(s): {key}", self.action_scan)

    def status_text(self) -> str:
        return self.summary

    @on(Input.Submitted, "#pattern")
    def submitted(self, event: Input.Submitted) -> None:
        self.pattern = event.value.strip() or "*"
        self.action_scan()
        self.query_one("#keys", Grid).focus()

    @work(thread=True, exclusive=True, group="scan")
    def scan(self, pattern: str) -> None:
        try:
            keys, truncated = data.redis_keys(self.sources, pattern)
        except Exception as exc:
            self.post_message(self.Keys([], False, problem(exc)))
        else:
            self.post_message(self.Keys(keys, truncated))

    @on(Keys)
    def show_keys(self, message: Keys) -> None:
        if message.error:
            self.show_status(message.error)
            return
        table = self.query_one("#keys", Grid)
        table.show([tuple(k) for k in message.keys])
        more = f", first {data.KEY_LIMIT} shown: narrow the pattern" if message.truncated else ""
        self.summary = (f"{len(message.keys)} key(s) match [b]{escape(self.pattern)}[/]{more} "
                        f"[dim](SCAN, never KEYS)[/]")
        self.show_status()

    @on(DataTable.RowHighlighted, "#keys")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if key := self.query_one("#keys", Grid).key_of(event.row_key.value):
            self.read(key)

    @work(thread=True, exclusive=True, group="value")
    def read(self, key: str) -> None:
        try:
            self.post_message(self.Value(key, data.redis_value(self.sources, key)))
        except Exception as exc:
            self.post_message(self.Value(key, None, problem(exc)))

    @on(Value)
    def show_value(self, message: Value) -> None:
        heading = self.query_one("#heading", Static)
        table = self.query_one("#value", DataTable)
        table.clear(columns=True)
        if message.error:
            heading.update(Text(f"{message.key}: {message.error}", style="red"))
        elif message.view is None:
            heading.update(Text(f"{message.key}: gone (expired or deleted)"))
        else:
            heading.update(Text(message.view.heading()))
            table.add_columns(*message.view.columns())
            for row in message.view.rows():
                table.add_row(*(Text(cell(v, 120)) for v in row))
        self.show_text(message.view.value if message.view is not None and message.view.type == "string" else None)

    def show_text(self, value: str | None) -> None:
        """A string value in full (pretty when it is JSON) instead of a one-cell table."""
        box = self.query_one("#text-value", Static)
        box.set_class(value is None, "hidden")
        self.query_one("#value", DataTable).set_class(value is not None, "hidden")
        if value is not None:
            try:
                box.update(Pretty(json.loads(value)))
            except ValueError:
                box.update(Text(value))
