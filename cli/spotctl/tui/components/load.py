"""Load: choose a Locust scenario and its size, run it (`g`, asked first) and watch connections,
deliveries/s and p99 as live charts; the verdict and the report's path when it ends. The run is
`spotctl load run`'s own (same runner, same results folder)."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, RichLog, Select, Sparkline, Static

from spotctl.tui import data
from spotctl.tui.components.base import SpotctlScreen, problem
from spotctl.tui.data import Sources

POINTS = 120  # progress samples kept per chart
FIELDS = (("users", "users", "50"), ("duration", "hold s", "10"), ("p99", "p99 ms", "50"),
          ("rate", "msgs/s", ""))  # msgs/s left blank: the scenario's own rate


class LoadScreen(SpotctlScreen):
    BINDINGS = [*SpotctlScreen.BINDINGS, Binding("g", "run", "Run")]
    WRITES = frozenset({"run"})
    HEADING = "load tests (Locust)"

    class Progress(Message):
        def __init__(self, progress: dict[str, Any]) -> None:
            super().__init__()
            self.progress = progress

    class Done(Message):
        def __init__(self, outcome: Any, error: str = "") -> None:
            super().__init__()
            self.outcome, self.error = outcome, error

    def __init__(self, sources: Sources) -> None:
        super().__init__(sources)
        self.running = False
        self.series: dict[str, deque[float]] = {k: deque(maxlen=POINTS) for k in ("conns", "rate", "p99")}
        try:
            self.scenarios = data.load_scenarios()
        except Exception as exc:  # no loadtests/ beside the CLI: the screen says so
            self.scenarios, self.note = [], f"[bold red]{escape(problem(exc))}[/]"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(escape(self.HEADING), id="status", classes="status")
        with Horizontal(id="load-form"):
            yield Select([(s["name"], s["name"]) for s in self.scenarios], id="scenario", allow_blank=False,
                         value=self.scenarios[0]["name"]) if self.scenarios else Label("no scenarios")
            for key, label, value in FIELDS:
                with Vertical(classes="field"):
                    yield Label(label)
                    yield Input(value, id=key, type="number", placeholder=label)
        yield Static("", id="scenario-summary")
        with Horizontal(id="load-charts"):
            for key, label in (("conns", "connections"), ("rate", "deliveries/s"), ("p99", "p99 ms")):
                with Vertical(classes="chart"):
                    yield Static(label, id=f"{key}-label")
                    yield Sparkline([], id=f"{key}-chart")
        yield RichLog(id="verdict", wrap=True, markup=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.show_status()
        self._describe()

    @on(Select.Changed, "#scenario")
    def _describe(self, event: object = None) -> None:
        chosen = self._scenario()
        found = next((s for s in self.scenarios if s["name"] == chosen), None)
        text = f"{found['summary']} (against {', '.join(found['targets'])})" if found else ""
        self.query_one("#scenario-summary", Static).update(Text(text))

    def _scenario(self) -> str:
        picked = self.query("#scenario")
        return str(picked.first(Select).value) if picked and isinstance(picked.first(), Select) else ""

    def _number(self, key: str) -> float | None:
        text = self.query_one(f"#{key}", Input).value.strip()
        return float(text) if text else None

    def action_run(self) -> None:
        from spotctl.tui.components.confirm import ConfirmScreen

        if self.running or not self.scenarios:
            return
        try:
            users, hold, p99, rate = (self._number(k) for k, _, _ in FIELDS)
        except ValueError:
            self.say("[bold red]users, hold, p99 and msgs/s must be numbers[/]")
            return
        scenario = self._scenario()
        settings = (scenario, int(users or 0), hold or 0.0, p99 or 0.0, rate)

        def answered(yes: bool | None) -> None:
            if yes:
                self.start(*settings)

        self.app.push_screen(ConfirmScreen(f"run load scenario {scenario}: {settings[1]} users held for "
                                           f"{settings[2]:g} s against the stack"), answered)

    def start(self, scenario: str, users: int, hold: float, p99: float, rate: float | None) -> None:
        for series in self.series.values():
            series.clear()
        self.query_one("#verdict", RichLog).clear()
        self.running = True
        self.say(f"starting {escape(scenario)}…")
        self.run_load(scenario, users, hold, p99, rate)

    @work(thread=True, exclusive=True, group="load")
    def run_load(self, scenario: str, users: int, hold: float, p99: float, rate: float | None) -> None:
        def target(description: str) -> None:
            self.app.call_from_thread(self.say, f"running against {escape(description)}")

        def progressed(progress: dict[str, Any]) -> None:
            self.post_message(self.Progress(progress))

        try:
            outcome = data.load_run(self.sources, scenario, users, hold, p99, rate, target, progressed)
        except Exception as exc:
            self.post_message(self.Done(None, problem(exc)))
        else:
            self.post_message(self.Done(outcome))

    @on(Progress)
    def progress(self, message: Progress) -> None:
        p = message.progress
        for key, value in (("conns", p.get("connections", 0)), ("rate", p.get("deliveries_per_s", 0)),
                           ("p99", p.get("p99_ms", 0))):
            self.series[key].append(float(value or 0))
            self.query_one(f"#{key}-chart", Sparkline).data = list(self.series[key])
        self.query_one("#conns-label", Static).update(f"connections {p.get('connections', 0):,}")
        self.query_one("#rate-label", Static).update(f"deliveries/s {p.get('deliveries_per_s', 0):,.0f}")
        self.query_one("#p99-label", Static).update(f"p99 {p.get('p99_ms', 0):.1f} ms")
        self.say(f"{p.get('elapsed_s', 0):.0f} s, users {p.get('users', 0):,}, drops {p.get('drops', 0)}, "
                 f"failures {p.get('failures', 0)}")

    @on(Done)
    def done(self, message: Done) -> None:
        self.running = False
        log = self.query_one("#verdict", RichLog)
        if message.outcome is None:
            self.say(f"[bold red]{escape(message.error)}[/]")
            return
        s = message.outcome.summary
        verdict = "[bold green]PASSED[/]" if s["passed"] else "[bold red]FAILED[/]"
        log.write(f"{verdict} {escape(s['scenario'])} against {escape(str(s['target']))}: "
                  f"{s['connections_peak']:,} connections, {s['messages']:,} deliveries, "
                  f"p50/p99 {s['p50_ms']}/{s['p99_ms']} ms")
        for check in s["checks"]:
            mark = "[green]pass[/]" if check["ok"] else "[bold red]FAIL[/]"
            log.write(f"  {mark} {escape(check['name'])}: {escape(check['detail'])}")
        log.write(f"report: {escape(str(message.outcome.results_dir / 'report.html'))}")
        self.say(f"{'passed' if s['passed'] else 'FAILED'}; results in {escape(str(message.outcome.results_dir))}")
