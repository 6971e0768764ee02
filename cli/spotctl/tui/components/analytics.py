"""Analytics: a tenant's plays (or active users) per minute with the forecast band and the anomalies the
detector flagged marked on the line, over the model registry and the tenant's recent anomalies
(`spotctl analytics metrics --chart`, `forecast --chart`, `models`, `anomalies`). `t` picks the tenant,
`m` the metric, `w` how far back the chart looks.

The chart is textual-plotext's `PlotextPlot`: a plotext figure per widget, redrawn at the widget's size
(the CLI's `--chart` uses plotext's global figure, which two screens or threads would share)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual_plotext import PlotextPlot

from spotctl.inspect.analytics_view import METRICS, SPANS, Chart, Overview
from spotctl.tui import data
from spotctl.tui.components.base import problem
from spotctl.tui.components.table_screen import TableScreen
from spotctl.tui.data import Sources

TICKS = 5


class AnalyticsScreen(TableScreen):
    BINDINGS = [*TableScreen.BINDINGS, Binding("t", "tenant", "Tenant"), Binding("m", "metric", "Metric"),
                Binding("w", "span", "Span")]
    COLUMNS = ("minute (UTC)", "score", "why", "source", "model")
    HEADING = "analytics"
    INTERVAL_S = 15.0  # a window closes once a minute; a forecast costs the service a few hundred ms

    class Read(Message):
        def __init__(self, overview: Overview) -> None:
            super().__init__()
            self.overview = overview

    def __init__(self, sources: Sources, tenant: str = "default") -> None:
        super().__init__(sources)
        self.tenant, self.metric, self.span = tenant, METRICS[0], SPANS[0]
        self.overview: Overview | None = None  # what is shown now

    def above(self) -> ComposeResult:
        yield PlotextPlot(id="chart")
        yield Static("", id="chart-notes", classes="hidden")
        yield DataTable(id="models", cursor_type="none", show_cursor=False)
        yield Input(placeholder="tenant (enter shows it, escape keeps the current one)", id="tenant",
                    classes="hidden")

    def on_mount(self) -> None:
        self.query_one("#models", DataTable).add_columns("model", "live", "versions", "evaluation",
                                                         "trained (UTC)", "on")
        super().on_mount()

    # -- reading ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="table")
    def load(self) -> None:
        """One read for the chart, the registry and the anomalies (rows go to the grid as every table's do)."""
        try:
            overview = data.analytics_overview(self.sources, self.tenant, self.metric, self.span)
        except Exception as exc:  # the service down is the status line, with the command that starts it
            self.post_message(self.Loaded([], problem(exc)))
            return
        self.post_message(self.Read(overview))
        self.post_message(self.Loaded(list(overview.anomalies)))

    @on(Read)
    def shown(self, message: Read) -> None:
        ov = self.overview = message.overview
        plot = self.query_one("#chart", PlotextPlot)
        draw(plot.plt, ov.chart)
        plot.refresh()
        notes = self.query_one("#chart-notes", Static)
        notes.update(Text("\n".join(ov.notes)))
        notes.set_class(not ov.notes, "hidden")
        models = self.query_one("#models", DataTable)
        models.clear()
        for row in ov.models:
            models.add_row(*(Text(c) for c in row))

    def status_text(self) -> str:
        every = f", every {self.INTERVAL_S:g} s" if self.INTERVAL_S else ""
        return (f"analytics of {escape(self.tenant)}: {self.metric}, last {self.span.name} "
                f"[dim](anomalies: {escape(self.grid.summary())}{every})[/]")

    # -- choosing what to show -------------------------------------------------------------------------

    def action_tenant(self) -> None:
        box = self.query_one("#tenant", Input)
        box.value = self.tenant
        box.remove_class("hidden")
        box.focus()

    @on(Input.Submitted, "#tenant")
    def chose_tenant(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.add_class("hidden")
        self.grid.focus()
        if event.value.strip():
            self.tenant = event.value.strip()
            self.action_refresh()

    def action_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.action_refresh()

    def action_span(self) -> None:
        self.span = SPANS[(SPANS.index(self.span) + 1) % len(SPANS)]
        self.action_refresh()

    def action_back(self) -> None:
        box = self.query_one("#tenant", Input)
        if box.has_focus:
            box.add_class("hidden")
            self.grid.focus()
        else:
            super().action_back()


def draw(plt: Any, chart: Chart) -> None:
    """The series, the forecast with its band (dotted) and the anomalies (x) on one figure; the title is
    the key (a legend box would hide the newest points). The x axis is minutes with our own tick labels
    (UTC), so nothing depends on the machine's time zone."""
    plt.clear_data()
    plt.clear_figure()
    plt.title(chart.title)
    if chart.xs:
        plt.plot(_minutes(chart.xs), chart.ys, marker="braille", color="cyan")
    if chart.band_xs:
        xs = _minutes(chart.band_xs)
        plt.plot(xs, chart.upper, marker="dot", color="green")
        plt.plot(xs, chart.lower, marker="dot", color="green")
        plt.plot(xs, chart.value, marker="braille", color="green")
    if chart.marks_x:
        plt.scatter(_minutes(chart.marks_x), chart.marks_y, marker="x", color="red")
    every = chart.xs + chart.band_xs
    if every:
        ticks, labels = _ticks(min(every), max(every))
        plt.xticks(ticks, labels)
    plt.ylim(0, None)


def _minutes(xs: list[float]) -> list[float]:
    return [x / 60 for x in xs]


def _ticks(first: float, last: float) -> tuple[list[float], list[str]]:
    fmt = "%H:%M" if last - first <= 86_400 else "%d/%m %H:%M"
    if last <= first:
        return [first / 60], [dt.datetime.fromtimestamp(first, dt.UTC).strftime(fmt)]
    at = [first + (last - first) * i / (TICKS - 1) for i in range(TICKS)]
    return [t / 60 for t in at], [dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt) for t in at]
