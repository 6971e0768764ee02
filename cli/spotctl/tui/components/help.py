"""`?`: the keys of the screen you are on and the global ones, as a modal (escape or ? closes it)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown


def _describe(key: str) -> str:
    names = {"slash": "/", "question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
             "escape": "esc", "ctrl+p": "ctrl+p"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))


def bindings_markdown(title: str, bindings: list[Binding]) -> str:
    rows = "\n".join(f"| `{_describe(b.key)}` | {b.description or b.action} |" for b in bindings)
    return f"### {title}\n\n| key | does |\n|---|---|\n{rows}\n"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, screen: Screen[object], app_bindings: list[Binding]) -> None:
        super().__init__()
        self.text = (bindings_markdown(f"This screen ({type(screen).__name__.removesuffix('Screen')})",
                                       [b for b in screen.BINDINGS if isinstance(b, Binding)])
                     + "\n" + bindings_markdown("Everywhere", app_bindings)
                     + "\nctrl+p opens the command palette: screens, services (up/down/logs) and scenarios.")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self.text)
