"""Metrics (the key series as sparklines over 15 minutes) and Alerts (pending and firing, with age;
`m` mutes the selected one for an hour after the CLI's question; Enter shows it in full):
`spotctl metrics` and `spotctl alerts list`, live."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding

from spotctl.inspect import questions
from spotctl.inspect.alerts_view import age
from spotctl.inspect.metrics_view import sparkline, with_unit
from spotctl.tui import data
from spotctl.tui.components.table_screen import Row, TableScreen

STATE_STYLE = {"firing": "bold red", "pending": "yellow", "silenced": "dim", "inhibited": "dim"}
SILENCE_FOR = "1h"


class MetricsScreen(TableScreen):
    COLUMNS = ("series", "now", "last 15 minutes")
    HEADING = "metrics (Prometheus)"
    INTERVAL_S = 10.0

    def fetch(self) -> list[Row]:
        return [(what, with_unit(now, unit), sparkline(values, 60)) for what, now, values, unit in
                data.key_metrics(self.sources)]


class AlertsScreen(TableScreen):
    # `s` sorts on every table, so silencing is `m` (mute).
    BINDINGS = [*TableScreen.BINDINGS, Binding("m", "silence", "Silence 1h")]
    WRITES = frozenset({"silence"})
    COLUMNS = ("id", "alert", "state", "severity", "age", "labels", "summary")
    HEADING = "alerts (pending and firing)"

    def __init__(self, sources: data.Sources) -> None:
        super().__init__(sources)
        self.alerts: dict[str, tuple[dict[str, str], Any]] = {}  # row id -> (full label set, the row)

    def fetch(self) -> list[Row]:
        rows: list[Row] = []
        alerts: dict[str, tuple[dict[str, str], Any]] = {}
        for alert in data.alert_rows(self.sources):
            full = {"alertname": alert.name, **({"severity": alert.severity} if alert.severity else {}),
                    **alert.labels}
            row_id = hashlib.sha1(repr(sorted(full.items())).encode()).hexdigest()[:6]
            alerts[row_id] = (full, alert)
            rows.append((row_id, alert.name, alert.state, alert.severity, age(alert.since),
                         ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())), alert.summary))
        self.alerts = alerts
        return rows

    def cells(self, row: Row) -> Sequence[Any]:
        row_id, name, state, *rest = super().cells(row)
        return (row_id, name, Text(str(state), style=STATE_STYLE.get(str(state), "")), *rest)

    def action_silence(self) -> None:
        row_id = self.selected_key()
        if row_id is None or row_id not in self.alerts:
            return
        labels, _ = self.alerts[row_id]
        shown = ", ".join(f"{k}={v}" for k, v in labels.items())

        def act() -> str:
            silence_id = data.silence(self.sources, labels)
            return (f"silenced {labels['alertname']} for {SILENCE_FOR} (`spotctl alerts unsilence {silence_id}` "
                    "undoes it)")

        self.confirmed(lambda: questions.silence_alerts(shown, SILENCE_FOR), act, self.action_refresh)

    def drill(self, key: str) -> None:
        from spotctl.tui.components.detail import DetailScreen

        if key in self.alerts:
            labels, alert = self.alerts[key]
            self.app.push_screen(DetailScreen(self.sources, f"alert {alert.name}", {
                "state": alert.state, "since": alert.since.isoformat() if alert.since else "",
                "labels": labels, "summary": alert.summary, "silenced by": list(alert.silenced_by)}))
