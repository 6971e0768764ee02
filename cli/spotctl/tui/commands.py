"""Command palette (ctrl+p) providers: jump to a screen, act on a service, open a scenario."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from spotctl.tui.app import SpotctlApp

Entry = tuple[str, str, Callable[[], object]]  # text, help, what to do


class _Entries(Provider):
    """Fuzzy-matches a list of (text, help, callback) built from the app's current state."""

    @property
    def tui(self) -> SpotctlApp:
        return cast("SpotctlApp", self.app)

    def entries(self) -> list[Entry]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for text, help_text, run in self.entries():
            yield DiscoveryHit(text, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, run in self.entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), run, text=text, help=help_text)


class ScreensProvider(_Entries):
    def entries(self) -> list[Entry]:
        from spotctl.tui.modes import MODES

        return [(f"Go to {m.title}", f"key {m.key}, :{m.name}" if m.key else f":{m.name}",
                 partial(self.tui.switch_mode, m.name)) for m in MODES]


class ServicesProvider(_Entries):
    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        for name in self.tui.service_names:
            out.append((f"Logs of {name}", "live tail, / filters", partial(self.tui.open_logs, name)))
            if not self.tui.read_only:
                out += [(f"Start {name}", "spotctl up " + name, partial(self.tui.service_action, name, "up")),
                        (f"Stop {name}", "spotctl down " + name + " (asks first)",
                         partial(self.tui.service_action, name, "down"))]
        return out


class ScenariosProvider(_Entries):
    def entries(self) -> list[Entry]:
        from spotctl.guide import catalog

        return [(f"Scenario {name}", "open it on the scenarios screen", partial(self.tui.open_scenario, name))
                for name in catalog.names()]
