"""`spotctl scenario`: guided flows through the stack, step by step, each step verified for real.

A step says what happens and which store it touches, does it (an API call or a spotctl command),
then checks that it landed (a Redis key with its TTL, a Kafka record, a finished BullMQ job, a row,
a mail...). Progress is kept between runs; `--step N` resumes where a step failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.commands._complete import ScenarioName
from spotctl.output import OutputFormat, OutputOpt

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from spotctl.guide.model import Scenario, Step
    from spotctl.guide.runner import Event

NameArg = ScenarioName

app = typer.Typer(help="Guided scenarios: walk through the stack's flows, each step verified against the "
                       "real stores.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenario",
                   help="Guided flows (quickstart, play, search, ...): each step explained, run and verified.")


def _state_dir() -> Any:
    from spotctl import project

    return project.current().state_dir


@app.command("list")
def list_cmd(output: OutputOpt = OutputFormat.table) -> None:
    """Scenarios in the order to take them, with your progress."""
    from spotctl.guide import catalog, progress
    from spotctl.output import emit

    scenarios = catalog.load_all()
    done = progress.load_all(_state_dir())
    rows = []
    data = []
    for s in scenarios:
        label = done.get(s.name, progress.Progress()).label(len(s.steps))
        data.append({"name": s.name, "title": s.title, "steps": len(s.steps), "progress": label,
                     "summary": s.summary, "requires": [r.value for r in s.requires]})
        rows.append((s.name, s.title, len(s.steps), label))
    emit(data, output, ("NAME", "TITLE", "STEPS", "PROGRESS"), rows, title="scenarios")


@app.command("show")
def show_cmd(name: NameArg, output: OutputOpt = OutputFormat.table) -> None:
    """A scenario's steps: what each does and why, and what it verifies."""
    from rich.text import Text

    from spotctl.guide import actions, catalog, report
    from spotctl.guide.checks import KINDS
    from spotctl.output import out, print_json, print_lines

    scenario = catalog.load(name)
    if output is OutputFormat.json:
        print_json({"name": scenario.name, "title": scenario.title, "summary": scenario.summary,
                    "steps": [{"step": n, "title": s.title, "text": s.text,
                               "action": actions.describe(s.action) if s.action else None,
                               "verify": [KINDS[c.kind].describe(c.spec) for c in s.checks]}
                              for n, s in enumerate(scenario.steps, 1)]})
        return
    console = out()
    console.print(Text(scenario.title, style="bold"))
    print_text(scenario.summary)
    console.print()
    for number, step in enumerate(scenario.steps, 1):
        console.print(report.step_header(scenario, number), highlight=False)
        print_text(step.text)
        print_lines(report.plan_lines(step))
        console.print()
    console.print(Text.assemble("run it: ", (f"spotctl scenario run {scenario.name}", "bold")))


def print_text(markdown: str) -> None:
    """A step's markdown, its paragraphs and list items wrapped at the console's width (never cut)."""
    from rich.markdown import Markdown

    from spotctl.output import print_wrapped

    print_wrapped(Markdown(markdown))


def _ask_to_go_on(scenario: Scenario, yes: bool, interactive: bool) -> Any:
    """Before each step: show its text; on a terminal without --yes, wait for Enter (q stops)."""
    from spotctl.guide import report
    from spotctl.output import out

    async def before(number: int, step: Step) -> bool:
        console = out()
        console.rule(report.step_header(scenario, number), align="left")
        print_text(step.text)
        if interactive and not yes:
            answer = typer.prompt("Enter to run this step, q to stop", default="", show_default=False, err=True)
            return answer.strip().lower() not in ("q", "quit")
        return True

    return before


@app.command("run")
def run_cmd(
    name: NameArg,
    step: Annotated[int, typer.Option("--step", "-s", min=1, help="Start at step N, with the values earlier "
                                                                  "runs captured (resume after a failure).")] = 1,
    only: Annotated[bool, typer.Option("--only", help="Run just that one step.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run every step without pausing in between.")] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Run a scenario: each step's text, its action, then PASS/FAIL per check (and a hint on failure)."""
    import asyncio
    import sys

    from spotctl.endpoints import resolve
    from spotctl.guide import catalog, progress, report
    from spotctl.guide.runner import Runner
    from spotctl.output import err, is_interactive, out, print_json

    scenario = catalog.load(name)
    if step > len(scenario.steps):
        from spotctl.errors import UsageError

        raise UsageError(f"--step {step}: {scenario.name} has steps 1..{len(scenario.steps)}")
    table = output is OutputFormat.table
    display = StepDisplay(err(), sys.stderr.isatty()) if table else None
    runner = Runner(scenario, resolve(), _state_dir(), listener=display.show if display else None)
    before = _ask_to_go_on(scenario, yes, is_interactive()) if table else None
    try:
        results = asyncio.run(runner.run(start=step, only=only, before_step=before))
    finally:
        if display is not None:
            display.stop()
    passed = all(r.passed for r in results)  # stopping at the prompt (q) is not a failure
    if table:
        out().print(report.summary_line(scenario, results, step), highlight=False)
    else:
        state = progress.load(_state_dir(), scenario.name)
        print_json({"scenario": scenario.name, "passed": passed, "progress": state.label(len(scenario.steps)),
                    "steps": [r.as_json() for r in results]})
    if not passed:
        raise typer.Exit(1)


class StepDisplay:
    """How `scenario run` shows the runner's events: each step's result lines and, on a terminal only, a
    spinner while a check waits for something to land (a worker's job, a Kafka record)."""

    def __init__(self, console: Console, tty: bool) -> None:
        self.console, self.tty = console, tty
        self.status: Status | None = None

    def show(self, event: Event) -> None:
        from spotctl.guide import report
        from spotctl.guide.runner import CheckWaiting, StepFinished
        from spotctl.output import literal, out, print_lines

        if isinstance(event, CheckWaiting) and self.tty:
            text = literal(f"waiting up to {event.within_s:g} s: {event.description}")
            if self.status is None:
                self.status = self.console.status(text)
                self.status.start()
            else:
                self.status.update(text)
        elif isinstance(event, StepFinished):
            self.stop()
            print_lines(report.result_lines(event.result))
            out().print()

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


@app.command("reset")
def reset_cmd(name: NameArg) -> None:
    """Forget your progress in a scenario (and the values it captured)."""
    from spotctl.guide import catalog, progress
    from spotctl.output import info

    scenario = catalog.load(name)
    progress.save(_state_dir(), scenario.name, None)
    info(f"{scenario.name}: progress reset")
