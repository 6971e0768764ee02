"""Guided scenarios: the list with your progress (every one of them, at any size: it is a table); Enter
opens one step by step: the step's text, then what each run did and verified. `n` runs the step shown,
`a` runs the rest, `[` `]` move between steps, `x` resets the progress (after asking)."""

from __future__ import annotations

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Markdown, RichLog, Static

from spotctl.errors import SpotctlError
from spotctl.guide import catalog, progress, report
from spotctl.guide.model import Scenario, StepResult
from spotctl.tui.components.base import SpotctlScreen, problem
from spotctl.tui.components.table_screen import Row, TableScreen
from spotctl.tui.data import Sources

WIDE = 120  # from this width the results sit beside the text; below it, under it


class ScenariosScreen(TableScreen):
    COLUMNS = ("scenario", "progress", "title")
    HEADING = "guided scenarios (Enter opens one)"
    INTERVAL_S = 0

    def __init__(self, sources: Sources) -> None:
        super().__init__(sources)
        self.scenarios: dict[str, Scenario] = {}

    def fetch(self) -> list[Row]:
        found = catalog.load_all()
        self.scenarios = {s.name: s for s in found}
        done = progress.load_all(self.sources.state_dir)
        return [(s.name, done.get(s.name, progress.Progress()).label(len(s.steps)), s.title) for s in found]

    def on_screen_resume(self) -> None:
        self.action_refresh()  # progress changed while a scenario was open

    def drill(self, key: str) -> None:
        self.open(key)

    def open(self, name: str) -> None:
        """Show scenario `name` at its first step not passed yet (from Enter, `:scenario`, the palette)."""
        try:
            scenario = self.scenarios.get(name) or catalog.load(name)
        except SpotctlError as exc:
            self.say(f"[bold red]{escape(problem(exc))}[/]")
            return
        while len(self.app.screen_stack) > 1 and self.app.screen is not self:
            self.app.pop_screen()
        self.app.push_screen(GuideScreen(self.sources, scenario))


class GuideScreen(SpotctlScreen):
    BINDINGS = [
        *SpotctlScreen.BINDINGS,
        Binding("n", "run_step", "Run step"),
        Binding("a", "run_rest", "Run the rest"),
        Binding("left_square_bracket", "move(-1)", "Prev"),
        Binding("right_square_bracket", "move(1)", "Next"),
        Binding("x", "reset", "Reset"),
    ]

    class Started(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    class Finished(Message):
        """A step's result from the runner (or the error that kept it from running)."""

        def __init__(self, result: StepResult | None, error: str = "") -> None:
            super().__init__()
            self.result, self.error = result, error

    def __init__(self, sources: Sources, scenario: Scenario) -> None:
        super().__init__(sources)
        self.scenario = scenario
        self.HEADING = scenario.name
        self.step = 1
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status", classes="status")
        with Container(id="guide-panes"):
            with Vertical(id="guide"):
                yield Static("", id="step-title", classes="status")
                yield Markdown("", id="step-text")
            yield RichLog(id="results", wrap=True, markup=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        state = progress.load(self.sources.state_dir, self.scenario.name)
        self.show_step(state.next_step(len(self.scenario.steps)) or 1)
        self.show_status()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one("#guide-panes").set_class(event.size.width < WIDE, "narrow")

    def status_text(self) -> str:
        state = progress.load(self.sources.state_dir, self.scenario.name)
        return (f"[b]{escape(self.scenario.title)}[/] [dim]({escape(state.label(len(self.scenario.steps)))}; "
                f"escape: all scenarios)[/]")

    def show_step(self, number: int) -> None:
        self.step = max(1, min(number, len(self.scenario.steps)))
        step = self.scenario.steps[self.step - 1]
        header = report.step_header(self.scenario, self.step)
        self.query_one("#step-title", Static).update(report.lines_text([header, *report.plan_lines(step)]))
        self.query_one("#step-text", Markdown).update(step.text)

    def action_move(self, delta: int) -> None:
        self.show_step(self.step + delta)

    def action_run_step(self) -> None:
        if not self.running:
            self.run_steps(self.step, only=True)

    def action_run_rest(self) -> None:
        if not self.running:
            self.run_steps(self.step, only=False)

    def action_reset(self) -> None:
        from spotctl.tui.components.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                progress.save(self.sources.state_dir, self.scenario.name, None)
                self.query_one("#results", RichLog).write(f"[dim]{escape(self.scenario.name)}: progress reset[/]")
                self.show_step(1)
                self.show_status()

        if not self.running:
            done = progress.load(self.sources.state_dir, self.scenario.name).label(len(self.scenario.steps))
            self.app.push_screen(ConfirmScreen(f"forget your progress in {self.scenario.name} ({done}) and the "
                                               "values its steps captured"), answered)

    @work(exclusive=True, group="scenario")
    async def run_steps(self, start: int, only: bool) -> None:
        from spotctl.guide.runner import Event, Runner, StepFinished, StepStarted

        def listen(event: Event) -> None:
            # Both through the message queue, in order: a header written at once would land above the
            # previous step's results, which arrive as a message (the bug `a` had).
            if isinstance(event, StepStarted):
                self.post_message(self.Started(event.number))
            elif isinstance(event, StepFinished):
                self.post_message(self.Finished(event.result))

        self.running = True
        try:
            await Runner(self.scenario, self.sources.endpoints, self.sources.state_dir, listen).run(start, only=only)
        except Exception as exc:  # the TUI stays up whatever the stack does
            self.post_message(self.Finished(None, problem(exc)))
        finally:
            self.running = False

    @on(Started)
    def started(self, message: Started) -> None:
        self.query_one("#results", RichLog).write(report.step_header(self.scenario, message.number))

    @on(Finished)
    def finished(self, message: Finished) -> None:
        log = self.query_one("#results", RichLog)
        if message.result is None:
            log.write(f"[bold red]{escape(message.error)}[/]")
            return
        for line in report.result_lines(message.result):
            log.write(line)
        self.show_status()
        if message.result.passed:
            self.show_step(message.result.number + 1)
