"""One thing in full (Enter on a row): its fields wrapped to the width, or a value (JSON pretty-printed);
escape goes back. Where a table must cut a long note or a message body, this shows all of it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from spotctl.tui.components.base import SpotctlScreen
from spotctl.tui.data import Sources


def readable(value: Any) -> RenderableType:
    """Text as text (never markup), JSON (or JSON in a string) pretty-printed."""
    if isinstance(value, Text):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return Text(value)
        return Pretty(parsed) if isinstance(parsed, dict | list) else Text(value)
    if isinstance(value, dict | list):
        return Pretty(value)
    return Text("" if value is None else str(value))


class DetailScreen(SpotctlScreen):
    def __init__(self, sources: Sources, title: str, fields: Mapping[str, Any] | None = None,
                 body: Any = None) -> None:
        super().__init__(sources)
        self.HEADING = title
        self.fields, self.body = dict(fields or {}), body

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"{escape(self.HEADING)} [dim](escape goes back)[/]", id="status", classes="status")
        with VerticalScroll(id="detail"):
            if self.fields:
                table = Table.grid(padding=(0, 2))
                table.add_column(style="bold", no_wrap=True)
                table.add_column(overflow="fold")
                for name, value in self.fields.items():
                    table.add_row(name, readable(value))
                yield Static(table, id="fields")
            if self.body is not None:
                yield Static(readable(self.body), id="body")
        yield Footer(compact=True, show_command_palette=False)
