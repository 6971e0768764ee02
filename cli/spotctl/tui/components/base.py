"""What every screen shares: the sources, a status line, `--read-only`, and actions confirmed with a count.

An action that changes the stack is named in `WRITES`: `spotctl tui --read-only` hides it (from the
footer and `?`) and refuses it. `confirmed(ask, act)` is the CLI's `confirm()` for a screen: `ask`
reads the count in a thread and returns the question (the CLI's own wording), the confirm modal shows
it, and `act` runs in a thread only after a yes, its one-line outcome going to the status line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual import work
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from spotctl.clients.reach import short
from spotctl.errors import SpotctlError
from spotctl.tui.data import Sources

Ask = Callable[[], str]  # reads what the action would touch; returns the question
Act = Callable[[], str]  # does it; returns what happened, one line


def problem(exc: BaseException) -> str:
    """One line for the status bar: the message and its hint for our errors, the first line otherwise."""
    if isinstance(exc, SpotctlError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    return short(exc) or type(exc).__name__


class SpotctlScreen(Screen[None]):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "back", "Back", show=False),
    ]
    WRITES: ClassVar[frozenset[str]] = frozenset()  # actions that change the stack (hidden by --read-only)
    HEADING = ""

    def __init__(self, sources: Sources) -> None:
        super().__init__()
        self.sources = sources
        self.note = ""  # the outcome of the last action, kept on the status line across refreshes

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.app, "read_only", False))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITES and self.read_only:
            return False
        return True

    @property
    def pushed(self) -> bool:
        """Opened from another screen (Enter): escape goes back to it."""
        stack = self.app.screen_stack
        return self in stack and stack.index(self) > 0

    def action_back(self) -> None:
        if self.pushed:
            self.dismiss()

    # -- the status line ---------------------------------------------------------------------------------

    def status_text(self) -> str:
        """The status line's markup; screens add what they show (rows, sort, filter)."""
        return self.HEADING

    def show_status(self, error: str = "") -> None:
        status = self.query("#status")
        if not status:
            return
        if error:
            status.first(Static).update(f"[bold red]{escape(self.HEADING)}: {escape(error)}[/]")
            return
        note = f"  {self.note}" if self.note else ""
        status.first(Static).update(self.status_text() + note)

    def say(self, markup: str) -> None:
        self.note = markup
        self.show_status()

    # -- actions confirmed with a count -----------------------------------------------------------------

    def confirmed(self, ask: Ask, act: Act, after: Callable[[], None] | None = None) -> None:
        """Ask (with the count read now), then act; nothing happens without a yes."""
        self._ask(ask, act, after)

    @work(thread=True, group="action")
    def _ask(self, ask: Ask, act: Act, after: Callable[[], None] | None) -> None:
        try:
            question = ask()
        except Exception as exc:
            self.app.call_from_thread(self.say, f"[bold red]{escape(problem(exc))}[/]")
            return
        self.app.call_from_thread(self._confirm, question, act, after)

    def _confirm(self, question: str, act: Act, after: Callable[[], None] | None) -> None:
        from spotctl.tui.components.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.say("working…")
                self._act(act, after)
            else:
                self.say("cancelled; nothing was changed")

        self.app.push_screen(ConfirmScreen(question), answered)

    @work(thread=True, group="action")
    def _act(self, act: Act, after: Callable[[], None] | None) -> None:
        try:
            outcome = act()
        except Exception as exc:
            self.app.call_from_thread(self.say, f"[bold red]{escape(problem(exc))}[/]")
        else:
            self.app.call_from_thread(self.say, f"[bold]{escape(outcome)}[/]")
        if after is not None:
            self.app.call_from_thread(after)
