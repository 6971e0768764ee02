"""The `spotctl` command tree.

Each module in `spotctl.commands` exposes `register(app)`; modules import their heavy libraries
(redis, pika, textual, ...) inside the command functions so that `spotctl --help` stays fast.
"""

from __future__ import annotations

import importlib

import typer

# Order is the order of `spotctl --help`.
COMMAND_MODULES = (
    "stack",     # up, down, ps/status, logs, health, config
    "doctor",
    "seed",
    "redis",
    "rabbit",
    "kafka",
    "mongo",
    "pg",
    "jobs",
    "hub",
    "purge",
    "load",
    "scenario",
    "tui",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="spotctl",
        help="Run, inspect and load-test the Spotify-like sandbox stack (local processes or Docker).",
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"spotctl.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"spotctl.commands.{name}":
                raise
            continue  # not built yet
        module.register(app)
    return app
