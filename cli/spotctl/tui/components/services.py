"""The services screen: `spotctl ps` live, with up (u), down (d, confirmed) and logs (l) of the selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from spotctl.clients.reach import short
from spotctl.tui import data
from spotctl.tui.components.confirm import ConfirmScreen
from spotctl.tui.components.table_screen import Row, TableScreen

STATE_STYLE = {"healthy": "green", "starting": "yellow", "unhealthy": "red", "stopped": "dim", "absent": "magenta"}


class ServicesScreen(TableScreen):
    BINDINGS = [
        *TableScreen.BINDINGS,
        Binding("u", "up", "Up"),
        Binding("d", "down", "Down"),
        Binding("l", "logs", "Logs"),
    ]
    COLUMNS = ("SERVICE", "STATE", "ENDPOINTS", "PID", "NOTES")
    INTERVAL_S = 2.0
    HEADING = "services"

    def fetch(self) -> list[Row]:
        return [(s.name, s.state.value, ", ".join(s.endpoints), s.pid or "",
                 "; ".join(x for x in (s.note, s.hint if s.state.value in ("absent", "stopped") else "",
                                       *(f"{k}={v}" for k, v in s.extra.items())) if x))
                for s in data.statuses(self.sources)]

    def cells(self, row: Row) -> Sequence[Any]:
        name, state, *rest = super().cells(row)
        return (name, Text(str(state), style=STATE_STYLE.get(str(state), "")), *rest)

    def _say(self, text: str) -> None:
        self.note = text
        self.query_one("#status", Static).update(text)

    class LogsRequested(Message):
        """Up to the app, which owns the screen stack: show this service's log."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def act(self, service: str, verb: str) -> None:
        """`up` at once, `down` after the confirm modal (from the keys or the command palette)."""
        if verb == "up":
            self._say(f"starting {service}… (waits until healthy)")
            self.start(service)
        elif verb == "down":
            def answered(yes: bool | None) -> None:
                if yes:
                    self._say(f"stopping {service}…")
                    self.stop(service)

            self.app.push_screen(ConfirmScreen(f"Stop {service}? Its clients will see it go away."), answered)

    def action_up(self) -> None:
        if service := self.selected_key():
            self.act(service, "up")

    @work(thread=True, group="lifecycle")
    def start(self, service: str) -> None:
        try:
            data.up(self.sources, service)
        except Exception as exc:
            self.app.call_from_thread(self._say, f"[red]up {service}: {escape(short(exc))}[/]")
        else:
            self.app.call_from_thread(self._say, f"[green]{service} is up[/]")
        self.load()

    def action_down(self) -> None:
        if service := self.selected_key():
            self.act(service, "down")

    @work(thread=True, group="lifecycle")
    def stop(self, service: str) -> None:
        try:
            data.down(self.sources, service)
        except Exception as exc:
            self.app.call_from_thread(self._say, f"[red]down {service}: {escape(short(exc))}[/]")
        else:
            self.app.call_from_thread(self._say, f"{service} stopped")
        self.load()

    def action_logs(self) -> None:
        if service := self.selected_key():
            self.post_message(self.LogsRequested(service))
