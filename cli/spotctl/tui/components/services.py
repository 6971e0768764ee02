"""The services screen: `spotctl ps` live with CPU %, RSS and restarts; up (u), down (d, confirmed),
logs (l), Enter for everything known about one service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message

from spotctl.inspect.values import cell, human_bytes
from spotctl.tui import data
from spotctl.tui.components.base import problem
from spotctl.tui.components.table_screen import Row, TableScreen

# A mark and a word, so a state reads the same with NO_COLOR; colour (and bold for trouble) on top.
STATE_MARK = {"healthy": "●", "starting": "◌", "unhealthy": "✗", "stopped": "○", "absent": "?",
              "restarting": "↻", "paused": "‖", "degraded": "◐"}
STATE_STYLE = {"healthy": "green", "starting": "yellow", "unhealthy": "bold red", "stopped": "bold",
               "absent": "bold magenta", "restarting": "bold yellow", "paused": "bold yellow",
               "degraded": "bold dark_orange"}


def state_cell(state: str) -> Text:
    return Text(f"{STATE_MARK.get(state, '·')} {state}", style=STATE_STYLE.get(state, ""))


def restarts_of(status: Any) -> int | None:
    """The runtime's restart count where it keeps one (a field the local supervisor adds)."""
    value = getattr(status, "restarts", None)
    return int(value) if isinstance(value, int) else None


class ServicesScreen(TableScreen):
    BINDINGS = [
        *TableScreen.BINDINGS,
        Binding("u", "up", "Up"),
        Binding("d", "down", "Down"),
        Binding("l", "logs", "Logs"),
    ]
    WRITES = frozenset({"up", "down"})
    COLUMNS = ("SERVICE", "STATE", "CPU%", "RSS", "RESTARTS", "NOTES", "PID", "ENDPOINTS")
    NOTE_WIDTH = 28  # at 80 columns the notes still start on screen; Enter shows them in full
    INTERVAL_S = 2.0
    HEADING = "services"

    def __init__(self, sources: data.Sources) -> None:
        super().__init__(sources)
        self.statuses: dict[str, Any] = {}

    def fetch(self) -> list[Row]:
        found = data.statuses(self.sources)
        self.statuses = {s.name: s for s in found}
        use = data.usage(self.sources, [s.name for s in found if s.state.value not in ("stopped", "absent")])
        rows: list[Row] = []
        for s in found:
            u = use.get(s.name)
            restarts = restarts_of(s)
            notes = "; ".join(x for x in (s.note, s.hint if s.state.value in ("absent", "stopped") else "",
                                          *(f"{k}={v}" for k, v in s.extra.items())) if x)
            rows.append((s.name, s.state.value, None if u is None else round(u.cpu_percent, 1),
                         None if u is None else u.rss_bytes, restarts, notes, s.pid, ", ".join(s.endpoints)))
        return rows

    def cells(self, row: Row) -> Sequence[Any]:
        name, state, cpu, rss, restarts, notes, pid, endpoints = row
        return (Text(name), state_cell(str(state)), Text("" if cpu is None else f"{cpu:.1f}"),
                Text("" if rss is None else human_bytes(rss)), Text("" if restarts is None else str(restarts)),
                Text(cell(notes, self.NOTE_WIDTH)), Text("" if pid is None else str(pid)), Text(endpoints))

    class LogsRequested(Message):
        """Up to the app, which owns the screen stack: show this service's log."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def drill(self, key: str) -> None:
        row = self.grid.selected_row()
        if row is not None:
            from spotctl.tui.components.detail import DetailScreen

            fields = dict(zip(self.COLUMNS, self.cells(row), strict=True))
            fields["NOTES"] = Text(str(row[5]))  # in full
            status = self.statuses.get(key)
            for label, attr in (("LAST EXIT", "last_exit"), ("CRASH LOOP", "crash_loop")):
                if getattr(status, attr, None):
                    fields[label] = Text(str(getattr(status, attr)))
            self.app.push_screen(DetailScreen(self.sources, f"service {key}", fields))

    def act(self, service: str, verb: str) -> None:
        """`up` at once, `down` after the confirm modal (from the keys, `:` or the command palette)."""
        from spotctl.inspect import questions
        from spotctl.tui.components.confirm import ConfirmScreen

        if verb == "up":
            self.say(f"starting {escape(service)}… (waits until healthy)")
            self.start(service)
        elif verb == "down":
            def answered(yes: bool | None) -> None:
                if yes:
                    self.say(f"stopping {escape(service)}…")
                    self.stop(service)
                else:
                    self.say("cancelled; nothing was changed")

            self.app.push_screen(ConfirmScreen(questions.stop_service(service)), answered)

    def action_up(self) -> None:
        if service := self.selected_key():
            self.act(service, "up")

    @work(thread=True, group="lifecycle")
    def start(self, service: str) -> None:
        try:
            data.up(self.sources, service)
        except Exception as exc:
            self.app.call_from_thread(self.say, f"[bold red]up {escape(service)}: {escape(problem(exc))}[/]")
        else:
            self.app.call_from_thread(self.say, f"[green]{escape(service)} is up[/]")
        self.load()

    def action_down(self) -> None:
        if service := self.selected_key():
            self.act(service, "down")

    @work(thread=True, group="lifecycle")
    def stop(self, service: str) -> None:
        try:
            data.down(self.sources, service)
        except Exception as exc:
            self.app.call_from_thread(self.say, f"[bold red]down {escape(service)}: {escape(problem(exc))}[/]")
        else:
            self.app.call_from_thread(self.say, f"{escape(service)} stopped")
        self.load()

    def action_logs(self) -> None:
        if service := self.selected_key():
            self.post_message(self.LogsRequested(service))
