"""A yes/no modal for actions that change the stack (k9s-style `confirm`): y confirms, n or escape cancels.

The question is the CLI's own (`spotctl.output.confirm`'s wording, with the count read just before),
so the TUI and the CLI ask the same thing.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


def as_question(text: str) -> str:
    """`purge 3 message(s) from 'q'` -> `Purge 3 message(s) from 'q'?` (as `confirm()` asks it)."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith("?") else f"{text}?"


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = as_question(question)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.question), id="question")  # names from the stores: never markup
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # enter on a stray key press keeps things as they are

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few options (enter picks, escape cancels): the first half of a two-step action."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question, self.options = question, options  # (value, label)

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical(id="dialog"):
            yield Label(Text(self.question), id="question")
            yield OptionList(*(Option(Text(label), id=value) for value, label in self.options), id="choices")

    def on_mount(self) -> None:
        self.query_one("#choices").focus()

    def on_option_list_option_selected(self, event: object) -> None:
        option = getattr(event, "option", None)
        self.dismiss(getattr(option, "id", None))

    def action_cancel(self) -> None:
        self.dismiss(None)
