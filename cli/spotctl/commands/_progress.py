"""Live progress for `spotctl up`: a table that fills in on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spotctl.stack.runtime import State

_ICON = {"healthy": ("✔", "green"), "degraded": ("!", "dark_orange"), "starting": ("…", "yellow"),
         "absent": ("–", "magenta"), "unhealthy": ("✘", "red"), "stopped": ("·", "dim")}


class UpProgress:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, float]] = {}
        self.started = time.monotonic()
        self.live: Any = None

    def __enter__(self) -> UpProgress:
        if sys.stderr.isatty():
            from rich.live import Live

            from spotctl.output import err

            self.live = Live(self._render(), console=err(), refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)

    def update(self, service: str, state: State, detail: str) -> None:
        elapsed = time.monotonic() - self.started
        self.rows[service] = (state.value, detail, elapsed)
        if self.live is not None:
            self.live.update(self._render())
        else:
            from spotctl.output import info

            info(f"{elapsed:5.1f}s  {service:<17} {state.value:<9} {detail}")

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table

        from spotctl.output import literal, styled

        table = Table.grid(padding=(0, 2))
        for name, (state, detail, elapsed) in self.rows.items():
            icon = Spinner("dots") if state == "starting" else styled(*_ICON.get(state, (state, "")))
            table.add_row(icon, literal(name), literal(state), f"{elapsed:.1f}s", styled(detail, "dim"))
        return table


class DownProgress:
    """`spotctl down`: a spinner naming the service being stopped on a terminal, a line per service
    stopped elsewhere (stopping the stack takes ~20 s: RabbitMQ and PostgreSQL shut down cleanly)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.status: Any = None

    def __enter__(self) -> DownProgress:
        if sys.stderr.isatty():
            from spotctl.output import err

            self.status = err().status("stopping…")
            self.status.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.status is not None:
            self.status.__exit__(exc_type, exc, tb)

    def update(self, service: str, state: State, detail: str) -> None:
        from spotctl.output import info, literal

        elapsed = time.monotonic() - self.started
        if state.value != "stopped":
            if self.status is not None:
                self.status.update(literal(f"{detail} {service}…"))
            return
        if self.status is not None:
            self.status.console.print(literal(f"{elapsed:5.1f}s  {service:<11} stopped"), highlight=False)
        else:
            info(f"{elapsed:5.1f}s  {service:<11} stopped")
