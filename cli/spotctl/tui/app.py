"""The Textual app: one mode per screen (services, redis, rabbit, kafka, jobs, scenarios), digits to
switch, `?` for help, ctrl+p for the command palette. Screens get their `Sources` passed down."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from spotctl.tui import commands, data
from spotctl.tui.components.help import HelpScreen
from spotctl.tui.components.logs import LogsScreen
from spotctl.tui.components.queues import JobsScreen, KafkaScreen, RabbitScreen
from spotctl.tui.components.redis_keys import RedisScreen
from spotctl.tui.components.scenarios import ScenariosScreen
from spotctl.tui.components.services import ServicesScreen
from spotctl.tui.data import Sources

ScreenFactory = Callable[[Sources], Screen[None]]
MODES: dict[str, tuple[str, str, ScreenFactory]] = {  # mode -> (key, title, screen)
    "services": ("1", "Services", ServicesScreen),
    "redis": ("2", "Redis keys", RedisScreen),
    "rabbit": ("3", "RabbitMQ queues", RabbitScreen),
    "kafka": ("4", "Kafka topics", KafkaScreen),
    "jobs": ("5", "BullMQ queues", JobsScreen),
    "scenarios": ("6", "Scenarios", ScenariosScreen),
}


class SpotctlApp(App[None]):
    CSS_PATH = "spotctl.tcss"
    TITLE = "spotctl"
    COMMANDS = App.COMMANDS | {commands.ScreensProvider, commands.ServicesProvider, commands.ScenariosProvider}
    BINDINGS = [
        *(Binding(key, f"switch_mode('{mode}')", title.split()[0]) for mode, (key, title, _) in MODES.items()),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, sources: Sources, start: str = "services") -> None:
        super().__init__()
        self.sources = sources
        self.start_mode = start

    def on_mount(self) -> None:
        for mode, (_, _, factory) in MODES.items():
            self.add_mode(mode, partial(factory, self.sources))
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
