"""Metrics (the key series as sparklines over 15 minutes) and Alerts (pending and firing, with age;
`s` silences the selected one for an hour after a confirmation). `spotctl metrics` / `alerts list` live."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.widgets import Static

from spotctl.clients.reach import short
from spotctl.inspect.alerts_view import age
from spotctl.inspect.metrics_view import sparkline, with_unit
from spotctl.tui import data
from spotctl.tui.components.confirm import ConfirmScreen
from spotctl.tui.components.table_screen import Row, TableScreen

STATE_STYLE = {"firing": "red", "pending": "yellow", "silenced": "dim", "inhibited": "dim"}


class MetricsScreen(TableScreen):
    COLUMNS = ("SERIES", "NOW", "LAST 15 MINUTES")
    HEADING = "metrics (Prometheus)"
    INTERVAL_S = 10.0

    def fetch(self) -> list[Row]:
        return [(what, with_unit(now, unit), sparkline(values, 60)) for what, now, values, unit in
                data.key_metrics(self.sources)]


class AlertsScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("s", "silence", "Silence 1h")]
    COLUMNS = ("ID", "ALERT", "STATE", "SEVERITY", "AGE", "LABELS", "SUMMARY")
    HEADING = "alerts (pending and firing)"

    def __init__(self, sources: data.Sources) -> None:
        super().__init__(sources)
        self.labels: dict[str, dict[str, str]] = {}  # row id -> the alert's full label set

    def fetch(self) -> list[Row]:
        rows: list[Row] = []
        labels: dict[str, dict[str, str]] = {}
        for alert in data.alert_rows(self.sources):
            full = {"alertname": alert.name, **({"severity": alert.severity} if alert.severity else {}),
                    **alert.labels}
            row_id = hashlib.sha1(repr(sorted(full.items())).encode()).hexdigest()[:6]
            labels[row_id] = full
            rows.append((row_id, alert.name, alert.state, alert.severity, age(alert.since),
                         ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())), alert.summary))
        self.labels = labels
        return rows

    def cells(self, row: Row) -> Sequence[Any]:
        row_id, name, state, *rest = super().cells(row)
        return (row_id, name, Text(str(state), style=STATE_STYLE.get(str(state), "")), *rest)

    def action_silence(self) -> None:
        row_id = self.selected_key()
        if row_id is None or row_id not in self.labels:
            return
        labels = self.labels[row_id]
        shown = ", ".join(f"{k}={v}" for k, v in labels.items())

        def answered(yes: bool | None) -> None:
            if yes:
                self.silence(labels)

        self.app.push_screen(ConfirmScreen(f"Silence {shown} for 1 hour? No notifications until then."), answered)

    @work(thread=True, group="silence")
    def silence(self, labels: dict[str, str]) -> None:
        try:
            silence_id = data.silence(self.sources, labels)
        except Exception as exc:
            self.app.call_from_thread(self._say, f"[red]silence: {escape(short(exc))}[/]")
        else:
            self.app.call_from_thread(self._say, f"silenced {escape(labels['alertname'])} for 1 h (silence "
                                                 f"{silence_id}; `spotctl alerts unsilence {silence_id}` undoes it)")
        self.load()

    def _say(self, text: str) -> None:
        self.note = text
        self.query_one("#status", Static).update(text)
