"""`:` (k9s' command mode): a one-line prompt at the bottom; enter runs it, tab completes, escape cancels."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static


class CommandLine(ModalScreen[str | None]):
    """Answers the text typed (None when cancelled); the app parses and runs it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("tab", "complete", "Complete", priority=True)]

    def __init__(self, words: Sequence[str], error: str = "") -> None:
        super().__init__()
        self.words, self.error = list(words), error

    def compose(self) -> ComposeResult:
        yield Static(self.error, id="command-error", classes="" if self.error else "hidden")
        yield Input(placeholder="redis, hub, pg, logs api, scenario chat, q …  (tab completes)", id="command",
                    suggester=SuggestFromList(self.words, case_sensitive=False))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_complete(self) -> None:
        """Take the completion shown in grey (right arrow does the same)."""
        box = self.query_one(Input)
        box.action_cursor_right()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
