"""The command tree: lazily loaded, listed with the commands' own help, errors without tracebacks."""

from __future__ import annotations

import importlib.util

import pytest

from spotctl.app import COMMANDS, load_command


@pytest.mark.parametrize("name", [n for n, (m, _) in COMMANDS.items()
                                  if importlib.util.find_spec(f"spotctl.commands.{m}")])
def test_listed_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command is not None, f"{name} is listed but its module does not register it"
    assert command.get_short_help_str(limit=200) == COMMANDS[name][1]


def test_every_listed_module_exists() -> None:
    missing = [m for m, _ in COMMANDS.values() if importlib.util.find_spec(f"spotctl.commands.{m}") is None]
    assert missing == []


def test_unknown_command_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("nope")
    assert result.returncode == 2
    assert "No such command 'nope'" in result.stderr


def test_bad_option_value_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ps", "--output", "xml")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    from spotctl import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"spotctl {__version__}"


@pytest.mark.parametrize(("words", "expected"), [
    ("scenario run q", {"quickstart"}),
    ("up re", {"redis"}),
    ("chaos kill wo", {"workers"}),
    ("load run la", {"latency"}),
    ("jobs failed re", {"recently-played", "reports"}),
    ("purge jobs em", {"email"}),
    ("kafka tail so", {"song_played"}),
    ("rabbit peek notifications.de", {"notifications.delivery", "notifications.delivery.dlq"}),
    ("kafka reset-offsets an", {"analytics"}),
])
def test_completion_offers_live_names(stack_settings: object, words: str, expected: set[str]) -> None:
    """What the shell offers after `spotctl WORDS<TAB>` (the stack's own names even while it is down)."""
    from typer.testing import CliRunner

    from spotctl.app import build_app

    argv = ["spotctl", *words.split()]
    result = CliRunner().invoke(build_app(), [], prog_name="spotctl", env={
        "_SPOTCTL_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(argv), "COMP_CWORD": str(len(argv) - 1)})
    assert result.exit_code == 0, result.output
    assert expected <= set(result.stdout.split()), result.stdout
