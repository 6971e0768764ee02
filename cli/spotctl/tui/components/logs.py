"""A live tail of one service's log file; `/` filters lines (lazydocker's most-wanted), escape goes back."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, RichLog, Static
from textual.worker import get_current_worker

from spotctl.inspect.log_view import readable

KEEP_LINES = 5000
TAIL_BYTES = 256_000


class LogsScreen(Screen[None]):
    BINDINGS = [Binding("slash", "filter", "Filter"), Binding("escape", "back", "Back")]

    class Lines(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    def __init__(self, service: str, path: Path | None) -> None:
        super().__init__()
        self.service, self.path = service, path
        self.buffer: deque[str] = deque(maxlen=KEEP_LINES)
        self.pattern = ""

    def compose(self) -> ComposeResult:
        yield Header()
        where = str(self.path) if self.path else "no log file (the runtime keeps none for this service)"
        yield Static(f"logs of [b]{escape(self.service)}[/] — {escape(where)}", id="status", classes="status")
        yield Input(placeholder="filter: text to keep (escape clears)", id="filter", classes="hidden")
        yield RichLog(id="log", max_lines=KEEP_LINES, wrap=True, markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(RichLog).focus()  # not the (hidden) filter box: escape must leave at once
        if self.path is not None:
            self.follow(self.path)

    @work(thread=True, exclusive=True)
    def follow(self, path: Path) -> None:
        """Send the file's last lines, then whatever is appended (a truncated file starts over)."""
        worker = get_current_worker()
        offset = max(0, path.stat().st_size - TAIL_BYTES) if path.exists() else 0
        partial = b""
        while not worker.is_cancelled:
            size = path.stat().st_size if path.exists() else 0
            if size < offset:
                offset, partial = 0, b""
            if size > offset:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read(size - offset)
                offset = size
                *lines, partial = (partial + chunk).split(b"\n")
                self.post_message(self.Lines([readable(line.decode("utf-8", "replace")) for line in lines]))
            time.sleep(0.3)

    @on(Lines)
    def add(self, message: Lines) -> None:
        self.buffer.extend(message.lines)
        log = self.query_one(RichLog)
        for line in message.lines:
            if self.pattern.lower() in line.lower():
                log.write(line)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#filter")
    def refilter(self, event: Input.Changed) -> None:
        self.pattern = event.value
        log = self.query_one(RichLog)
        log.clear()
        for line in self.buffer:
            if self.pattern.lower() in line.lower():
                log.write(line)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            box.value = ""
            box.add_class("hidden")
            self.query_one(RichLog).focus()
        else:
            self.dismiss()
