"""The `spotctl` command tree, loaded lazily.

Each module in `spotctl.commands` exposes `register(app)`. Only the module of the command being run
is imported and turned into click objects: converting every command up front costs more than the
0.3 s `spotctl --help` may take. The one-line helps below list the commands without importing them;
a test keeps them equal to the commands' own docstrings.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

# command -> (module in spotctl.commands, one-line help). Order is the order of `spotctl --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("stack", "Start services (idempotent), wait until healthy, print endpoints."),
    "down": ("stack", "Stop services; with --volumes also delete their data."),
    "ps": ("stack", "Show each service's state, endpoints and notes."),
    "status": ("stack", "Alias of ps."),
    "logs": ("stack", "Print a service's log (all services, prefixed, when none is named)."),
    "stats": ("service", "CPU % and memory of each running service."),
    "exec": ("service", "Run a command where a service runs, with its environment; exit with its code."),
    "trace": ("trace", "Follow one request (X-Request-ID) through every service's log, in time order."),
    "health": ("stack", "Check health; exit 1 if any required service is not healthy."),
    "config": ("stack", "Resolved URLs and ports every spotctl command uses (flags > env > compose file)."),
    "doctor": ("doctor", "Check this machine: python, docker, binaries, ports, fd limit, disk."),
    "seed": ("seed", "Seed artists, albums, songs, users, follows and listening history "
                     "(re-runs add only what is missing)."),
    "redis": ("redis", "Inspect Redis (like redis-cli, with SCAN and type-aware values)."),
    "rabbit": ("rabbit", "Inspect RabbitMQ (queues, peek, publish, purge, DLQ re-drive)."),
    "kafka": ("kafka", "Inspect Kafka (topics, group lag, tail, produce, reset-offsets)."),
    "mongo": ("mongo", "Inspect MongoDB (dbs, collections, find, count)."),
    "pg": ("pg", "Inspect PostgreSQL (tables, describe, read-only queries)."),
    "jobs": ("jobs", "Inspect BullMQ job queues (counts, failures, retry, clean, enqueue)."),
    "hub": ("hub", "Use the real-time hub as a user (connect, send, watch, notify, topics, stats)."),
    "chaos": ("chaos", "Kill, stop or pause a service on purpose (drills; the supervisor heals)."),
    "purge": ("purge", "Purge queues, dead letters, topics or job queues (always confirmed)."),
    "scenario": ("scenario", "Guided flows (quickstart, play, search, ...): each step explained, run and verified."),
    "load": ("load", "Load-test the hub, the API and baseline peers with Locust."),
    "metrics": ("metrics", "Query Prometheus (instant values, or sparklines over --range)."),
    "alerts": ("alerts", "Alerts: list pending/firing, silence, unsilence, test end to end."),
    "deploy": ("deploy", "Render Kubernetes manifests from the compose file and validate them."),
    "analytics": ("analytics", "Analytics: metrics per tenant and window, charts, ML models."),
    "tui": ("tui", "Open the Textual dashboard."),
}


class LazyGroup(TyperGroup):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])


def load_command(name: str) -> Any:
    """The click command for `name`, built from its module's `register(app)`."""
    from typer.main import get_command

    module = importlib.import_module(f"spotctl.commands.{COMMANDS[name][0]}")
    holder = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)
    module.register(holder)
    if len(holder.registered_commands) + len(holder.registered_groups) == 1:
        holder.callback()(lambda: None)  # keep a lone command addressable by its name
    return get_command(holder).get_command(None, name)  # type: ignore[attr-defined]


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="spotctl",
        cls=LazyGroup,
        help="Run, inspect and load-test the Spotify-like sandbox stack (local processes or Docker).",
        no_args_is_help=True,
        # Plain click help: rich's help renderer costs ~0.15 s of imports, and `--help` must stay < 0.3 s.
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def main(
        version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_print_version,
                                     help="Print spotctl's version and exit."),
    ) -> None:
        """Run, inspect and load-test the Spotify-like sandbox stack (local processes or Docker)."""

    return app


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("spotctl")
        except PackageNotFoundError:  # run from a checkout without installing
            from spotctl import __version__ as installed
        print(f"spotctl {installed}")
        raise typer.Exit()
