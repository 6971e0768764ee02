"""How a step and its result read on a terminal (Rich markup), shared by the CLI and the TUI.

Pure: values in, markup strings out. The learner sees what will happen before it runs, then what
was done, what landed where (PASS/FAIL per check), the hint on failure, and commands to look for
themselves.
"""

from __future__ import annotations

from rich.markup import escape

from spotctl.guide import actions
from spotctl.guide.checks import KINDS
from spotctl.guide.model import Outcome, Scenario, Step, StepResult

MARK = {Outcome.passed: "[bold green]PASS[/]", Outcome.failed: "[bold red]FAIL[/]",
        Outcome.error: "[bold red]ERROR[/]"}


def step_header(scenario: Scenario, number: int) -> str:
    step = scenario.steps[number - 1]
    return f"[bold]Step {number}/{len(scenario.steps)} · {escape(step.title)}[/]"


def plan_lines(step: Step) -> list[str]:
    """What the step will do and check (templates unrendered: the learner sees the recipe)."""
    lines = []
    if step.action is not None:
        lines.append(f"[cyan]→ {escape(actions.describe(step.action))}[/]")
    lines += [f"  [dim]verify:[/] {escape(KINDS[c.kind].describe(c.spec))}" for c in step.checks]
    return lines


def result_lines(result: StepResult) -> list[str]:
    lines = []
    if result.action:
        lines.append(f"[cyan]→ {escape(result.action)}[/]")
        if result.action_detail:
            lines.append(f"  [dim]{escape(result.action_detail)}[/]")
    for check in result.checks:
        mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
        lines.append(f"  {mark} {escape(check.description)} [dim]— {escape(check.detail)}[/]")
        if not check.ok and check.look:
            lines.append(f"       [dim]look:[/] [bold]{escape(check.look)}[/]")
    if result.error:
        lines.append(f"  {MARK[Outcome.error]} {escape(result.error)}")
    if not result.passed:
        lines.append(f"  [yellow]hint:[/] {escape(result.hint)}")
    elif result.explore:
        lines.append("  [dim]look for yourself:[/] " + "  ".join(f"[bold]{escape(c)}[/]" for c in result.explore))
    lines.append(f"  {MARK[result.outcome]} [dim]in {result.duration_s:.2f} s[/]")
    return lines


def summary_line(scenario: Scenario, results: list[StepResult], start: int) -> str:
    total = len(scenario.steps)
    if not results:
        return f"{scenario.name}: nothing run"
    last = results[-1]
    took = sum(r.duration_s for r in results)
    if last.passed and last.number == total:
        return f"[green]{scenario.name}: steps {start}..{total} passed in {took:.1f} s[/]"
    if last.passed:
        return f"{scenario.name}: stopped after step {last.number}/{total}"
    return (f"[red]{scenario.name}: step {last.number}/{total} {last.outcome.value}ed[/] — fix it, then resume "
            f"with [bold]spotctl scenario run {scenario.name} --step {last.number}[/]")
