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
