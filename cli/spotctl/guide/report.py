"""How a step and its result read on a terminal, shared by the CLI and the TUI.

Pure: values in, `rich.text.Text` out. The learner sees what will happen before it runs, then what
was done, what landed where (PASS/FAIL per check), the hint on failure, and commands to look for
themselves. Every value (a key, a query, a hint) is a literal span: `bull:email:meta` or `[red]` in
data never turn into an emoji or a style, in the CLI's console and the TUI's widgets alike.
"""

from __future__ import annotations

from rich.text import Text

from spotctl.guide import actions
from spotctl.guide.checks import KINDS
from spotctl.guide.model import Outcome, Scenario, Step, StepResult

MARK = {Outcome.passed: ("PASS", "bold green"), Outcome.failed: ("FAIL", "bold red"),
        Outcome.error: ("ERROR", "bold red")}


def step_header(scenario: Scenario, number: int) -> Text:
    step = scenario.steps[number - 1]
    return Text(f"Step {number}/{len(scenario.steps)} · {step.title}", style="bold")


def plan_lines(step: Step) -> list[Text]:
    """What the step will do and check (templates unrendered: the learner sees the recipe)."""
    lines = []
    if step.action is not None:
        lines.append(Text(f"→ {actions.describe(step.action)}", style="cyan"))
    lines += [Text.assemble("  ", ("verify:", "dim"), " ", KINDS[c.kind].describe(c.spec)) for c in step.checks]
    return lines


def result_lines(result: StepResult) -> list[Text]:
    lines = []
    if result.action:
        lines.append(Text(f"→ {result.action}", style="cyan"))
        if result.action_detail:
            lines.append(Text(f"  {result.action_detail}", style="dim"))
    for check in result.checks:
        mark = ("PASS", "green") if check.ok else ("FAIL", "red")
        lines.append(Text.assemble("  ", mark, " ", check.description, (f" — {check.detail}", "dim")))
        if not check.ok and check.look:
            lines.append(Text.assemble("       ", ("look:", "dim"), " ", (check.look, "bold")))
    if result.error:
        lines.append(Text.assemble("  ", MARK[Outcome.error], " ", result.error))
    if not result.passed:
        lines.append(Text.assemble("  ", ("hint:", "yellow"), " ", result.hint))
    elif result.explore:
        line = Text.assemble("  ", ("look for yourself:", "dim"))
        for number, command in enumerate(result.explore):
            line.append("  " if number else " ")
            line.append(command, style="bold")
        lines.append(line)
    lines.append(Text.assemble("  ", MARK[result.outcome], (f" in {result.duration_s:.2f} s", "dim")))
    return lines


def summary_line(scenario: Scenario, results: list[StepResult], start: int) -> Text:
    total = len(scenario.steps)
    if not results:
        return Text(f"{scenario.name}: nothing run")
    last = results[-1]
    took = sum(r.duration_s for r in results)
    if last.passed and last.number == total:
        return Text(f"{scenario.name}: steps {start}..{total} passed in {took:.1f} s", style="green")
    if last.passed:
        return Text(f"{scenario.name}: stopped after step {last.number}/{total}")
    return Text.assemble((f"{scenario.name}: step {last.number}/{total} {last.outcome.value}ed", "red"),
                         " — fix it, then resume with ",
                         (f"spotctl scenario run {scenario.name} --step {last.number}", "bold"))


def lines_text(lines: list[Text]) -> Text:
    """Several lines as one `Text` (for a widget that shows one renderable)."""
    return Text("\n").join(lines)
