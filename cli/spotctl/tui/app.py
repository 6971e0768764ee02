"""The Textual app: one mode per screen (`modes.py`), digits to switch, `:` command mode, `?` for help,
ctrl+p for the command palette, `--read-only` hiding every action. Screens get their `Sources` passed
down; everything they show comes through `data.py`."""

from __future__ import annotations

from functools import partial

from textual.app import App
from textual.binding import Binding

from spotctl.tui import cmdline, commands, data
from spotctl.tui.components.help import HelpScreen
from spotctl.tui.components.logs import LogsScreen
from spotctl.tui.data import Sources
from spotctl.tui.modes import MODES


class SpotctlApp(App[None]):
    CSS_PATH = "spotctl.tcss"
    TITLE = "spotctl"
    COMMANDS = App.COMMANDS | {commands.ScreensProvider, commands.ServicesProvider, commands.ScenariosProvider}
    BINDINGS = [
        *(Binding(m.key, f"switch_mode('{m.name}')", m.title, show=False) for m in MODES if m.key),
        Binding("colon", "command", "Cmd"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, sources: Sources, start: str = "services", read_only: bool = False) -> None:
        super().__init__()
        self.sources = sources
        self.start_mode = start
        self.read_only = read_only
        if read_only:
            self.sub_title = "read-only"

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

    # -- `:` command mode ----------------------------------------------------------------------------

    def action_command(self, error: str = "") -> None:
        from spotctl.guide import catalog
        from spotctl.tui.components.command_line import CommandLine

        try:
            scenarios = catalog.names()
        except Exception:  # no scenarios folder: the other commands still work
            scenarios = []
        self.push_screen(CommandLine(cmdline.words(self.service_names, scenarios), error), self.run_command)

    def run_command(self, text: str | None) -> None:
        from spotctl.guide import catalog

        if not text or not text.strip():
            return
        try:
            command = cmdline.parse(text, self.service_names, catalog.names())
        except cmdline.CommandError as exc:
            self.action_command(str(exc))
            return
        if command.verb == "quit":
            self.exit()
        elif command.verb == "help":
            self.action_help()
        elif command.verb == "screen":
            self.switch_mode(command.arg)
        elif command.verb == "logs":
            self.open_logs(command.arg)
        elif command.verb == "scenario":
            self.open_scenario(command.arg)
        else:
            self.service_action(command.arg, command.verb)

    # -- what screens and the palette ask the app for -------------------------------------------------

    def on_services_screen_logs_requested(self, message: object) -> None:
        self.open_logs(str(getattr(message, "service", "")))

    def open_logs(self, service: str) -> None:
        self.push_screen(LogsScreen(service, data.log_file(self.sources, service)))

    def service_action(self, service: str, verb: str) -> None:
        """Act on a service through the services screen (so `down` asks first); never when read-only."""
        from spotctl.tui.components.services import ServicesScreen

        if self.read_only:
            self.notify("read-only: services are not started or stopped", severity="warning")
            return
        self.switch_mode("services")
        screen = self.screen
        if isinstance(screen, ServicesScreen):
            screen.act(service, verb)

    def open_scenario(self, name: str) -> None:
        from spotctl.tui.components.scenarios import ScenariosScreen

        self.switch_mode("scenarios")
        root = self.screen_stack[0]
        if isinstance(root, ScenariosScreen):
            root.open(name)
