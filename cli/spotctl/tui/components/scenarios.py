"""Guided scenarios, step by step: the list with progress and the current step's text on the left,
what each run did and verified on the right. `n` runs the step shown, `a` runs the rest, `x` resets."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Markdown, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from spotctl.clients.reach import short
from spotctl.errors import SpotctlError
from spotctl.guide import catalog, progress, report
from spotctl.guide.model import Scenario, StepResult
from spotctl.tui.data import Sources


class ScenariosScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "run_step", "Run step"),
        Binding("a", "run_rest", "Run the rest"),
        Binding("x", "reset", "Reset"),
        Binding("left_square_bracket", "move(-1)", "Prev step"),
        Binding("right_square_bracket", "move(1)", "Next step"),
    ]

    class Finished(Message):
        """A step's result from the runner (or the error that kept it from running)."""

        def __init__(self, result: StepResult | None, error: str = "") -> None:
            super().__init__()
            self.result, self.error = result, error

    def __init__(self, sources: Sources) -> None:
        super().__init__()
        self.sources = sources
        self.scenarios: list[Scenario] = []
        self.current: Scenario | None = None
        self.step = 1
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="guide"):
                yield OptionList(id="scenarios")
                yield Static("", id="step-title", classes="status")
                yield Markdown("", id="step-text")
            yield RichLog(id="results", wrap=True, markup=True)
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.scenarios = catalog.load_all()
        except SpotctlError as exc:
            self.query_one("#results", RichLog).write(f"[red]{escape(exc.message)}[/]")
            return
        self.fill_list()
        if self.scenarios:
            self.select(self.scenarios[0].name)

    def fill_list(self) -> None:
        done = progress.load_all(self.sources.state_dir)
        options = self.query_one("#scenarios", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        for s in self.scenarios:
            label = done.get(s.name, progress.Progress()).label(len(s.steps))
            options.add_option(Option(f"{s.name:<16} {escape(label)}", id=s.name))  # the title heads the text
        if highlighted is not None:
            options.highlighted = highlighted

    def select(self, name: str) -> None:
        """Show `name` at its first step not passed yet (the whole list highlights it too)."""
        found = next((s for s in self.scenarios if s.name == name), None)
        if found is None:
            return
        self.current = found
        options = self.query_one("#scenarios", OptionList)
        options.highlighted = self.scenarios.index(found)
        state = progress.load(self.sources.state_dir, name)
        self.show_step(state.next_step(len(found.steps)) or 1)

    @on(OptionList.OptionHighlighted, "#scenarios")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and (self.current is None or event.option.id != self.current.name):
            self.select(event.option.id)

    def show_step(self, number: int) -> None:
        assert self.current is not None
        self.step = max(1, min(number, len(self.current.steps)))
        step = self.current.steps[self.step - 1]
        plan = "\n".join(report.plan_lines(step))
        self.query_one("#step-title", Static).update(f"{report.step_header(self.current, self.step)}\n{plan}")
        self.query_one("#step-text", Markdown).update(f"## {self.current.title}\n\n{step.text}")

    def action_move(self, delta: int) -> None:
        if self.current is not None:
            self.show_step(self.step + delta)

    def action_run_step(self) -> None:
        if self.current is not None and not self.running:
            self.run_steps(self.current, self.step, only=True)

    def action_run_rest(self) -> None:
        if self.current is not None and not self.running:
            self.run_steps(self.current, self.step, only=False)

    def action_reset(self) -> None:
        if self.current is not None and not self.running:
            progress.save(self.sources.state_dir, self.current.name, None)
            self.query_one("#results", RichLog).write(f"[dim]{self.current.name}: progress reset[/]")
            self.fill_list()
            self.show_step(1)

    @work(exclusive=True, group="scenario")
    async def run_steps(self, scenario: Scenario, start: int, only: bool) -> None:
        from spotctl.guide.runner import Event, Runner, StepFinished, StepStarted

        log = self.query_one("#results", RichLog)

        def listen(event: Event) -> None:
            if isinstance(event, StepStarted):
                log.write(report.step_header(scenario, event.number))
            elif isinstance(event, StepFinished):
                self.post_message(self.Finished(event.result))

        self.running = True
        try:
            await Runner(scenario, self.sources.endpoints, self.sources.state_dir, listen).run(start, only=only)
        except SpotctlError as exc:
            hint = f" — {exc.hint}" if exc.hint else ""
            self.post_message(self.Finished(None, f"{exc.message}{hint}"))
        except Exception as exc:  # the TUI stays up whatever the stack does
            self.post_message(self.Finished(None, short(exc) or type(exc).__name__))
        finally:
            self.running = False

    @on(Finished)
    def finished(self, message: Finished) -> None:
        log = self.query_one("#results", RichLog)
        if message.result is None:
            log.write(f"[red]{escape(message.error)}[/]")
            return
        for line in report.result_lines(message.result):
            log.write(line)
        self.fill_list()
        if self.current is not None and message.result.passed:
            self.show_step(message.result.number + 1)
