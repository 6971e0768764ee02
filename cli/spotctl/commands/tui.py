"""`spotctl tui`: the stack, its stores and the guided scenarios in one terminal UI (Textual)."""

from __future__ import annotations

from typing import Annotated

import typer

from spotctl.tui.modes import NAMES as SCREENS


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)


def tui(
    screen: Annotated[str, typer.Option("--screen", "-s", help=f"Screen to open first: {', '.join(SCREENS)}.")]
    = "services",
    read_only: Annotated[bool, typer.Option("--read-only", help="Hide every action that changes the stack "
                                            "(up/down, delete, purge, redrive, retry, clean, offset reset, "
                                            "sending, load runs): for learners and demos.")] = False,
) -> None:
    """Open the Textual dashboard.

    Services (CPU, memory, restarts, up/down/logs), Redis, RabbitMQ, Kafka, BullMQ, key metrics
    as sparklines, the alerts, the hub, PostgreSQL, the document store and load tests, with the
    CLI's actions; the guided scenarios step by step. Keys: digits switch screens, : command mode
    (:redis, :logs hub), / filter, s sort, enter opens, escape goes back, ? every key, q quit.
    """
    from spotctl.errors import UsageError
    from spotctl.output import is_interactive

    if screen not in SCREENS:
        raise UsageError(f"unknown screen {screen!r}", hint=f"use one of: {', '.join(SCREENS)}")
    if not is_interactive():
        raise UsageError("spotctl tui needs a terminal",
                         hint="run it in a terminal; for scripts use `spotctl ps`, `spotctl scenario run`...")
    from spotctl.tui.app import SpotctlApp
    from spotctl.tui.data import open_sources

    SpotctlApp(open_sources(), start=screen, read_only=read_only).run()
