"""The Textual app: one mode per screen (services, redis, rabbit, kafka, jobs, scenarios), digits to
switch, `?` for help, ctrl+p for the command palette. Screens get their `Sources` passed down."""

from __future__ import annotations

from functools import partial

from textual.app import App
from textual.binding import Binding

from spotctl.tui import commands, data
from spotctl.tui.components.help import HelpScreen
from spotctl.tui.components.logs import LogsScreen
from spotctl.tui.components.scenarios import ScenariosScreen
from spotctl.tui.components.services import ServicesScreen
from spotctl.tui.data import Sources
from spotctl.tui.modes import MODES


class SpotctlApp(App[None]):
    CSS_PATH = "spotctl.tcss"
    TITLE = "spotctl"
    COMMANDS = App.COMMANDS | {commands.ScreensProvider, commands.ServicesProvider, commands.ScenariosProvider}
    BINDINGS = [
        *(Binding(m.key, f"switch_mode('{m.name}')", m.title.split()[0]) for m in MODES),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, sources: Sources, start: str = "services") -> None:
        super().__init__()
        self.sources = sources
        self.start_mode = start

    def on_mount(self) -> None:
        for mode in MODES:
            self.add_mode(mode.name, partial(mode.load(), self.sources))
        self.switch_mode(self.start_mode)

    @property
    def service_names(self) -> list[str]:
        return list(self.sources.runtime.compose.services)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, [b for b in self.BINDINGS if isinstance(b, Binding)]))

    def on_services_screen_logs_requested(self, message: ServicesScreen.LogsRequested) -> None:
        self.open_logs(message.service)

    def open_logs(self, service: str) -> None:
        self.push_screen(LogsScreen(service, data.log_file(self.sources, service)))

    def service_action(self, service: str, verb: str) -> None:
        """From the palette: act on a service through the services screen (so `down` asks first)."""
        self.switch_mode("services")
        screen = self.screen
        if isinstance(screen, ServicesScreen):
            screen.act(service, verb)

    def open_scenario(self, name: str) -> None:
        self.switch_mode("scenarios")
        screen = self.screen
        if isinstance(screen, ScenariosScreen):
            screen.select(name)
