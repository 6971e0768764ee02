"""`?`: every key of the screen you are on (those `--read-only` leaves), the global ones and the `:`
commands, as a modal (escape or ? closes it)."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

NAMES = {"slash": "/", "question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
         "escape": "esc", "colon": ":", "enter": "enter", "ctrl+p": "ctrl+p"}


def describe_key(key: str) -> str:
    return ", ".join(NAMES.get(k.strip(), k.strip()) for k in key.split(","))


def keys_table(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=True,
                  show_edge=False, pad_edge=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("does", ratio=1)
    for key, does in rows:
        table.add_row(Text(key), Text(does))
    return table


def screen_bindings(screen: Screen[object]) -> list[Binding]:
    """The screen's own bindings (ours, not Textual's focus keys) that are available now: `--read-only`
    and the screen itself hide what cannot be done here."""
    seen: dict[str, Binding] = {}
    for cls in reversed(type(screen).__mro__):
        if not cls.__module__.startswith("spotctl") or "BINDINGS" not in vars(cls):
            continue
        for b in vars(cls)["BINDINGS"]:
            if isinstance(b, Binding):
                seen[b.key] = b
    return [b for b in seen.values() if screen.check_action(b.action.split("(")[0], ()) is not False]


def help_text(screen: Screen[object], app_bindings: Iterable[Binding]) -> Group:
    from spotctl.tui.cmdline import help_lines

    name = type(screen).__name__.removesuffix("Screen")
    return Group(
        keys_table(f"This screen ({name})", [(describe_key(b.key), b.description or b.action)
                                             for b in screen_bindings(screen)]),
        keys_table("Everywhere", [*((describe_key(b.key), b.description or b.action) for b in app_bindings),
                                  ("ctrl+p", "command palette: screens, services (up/down/logs), scenarios")]),
        keys_table("Commands (after :)", help_lines()),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, screen: Screen[object], app_bindings: list[Binding]) -> None:
        super().__init__()
        self.text = help_text(screen, app_bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.text)
