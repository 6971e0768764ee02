"""Data is printed as it is stored: no Rich markup, no `:emoji:` codes, in tables, titles, messages and
errors (issue 17, item 1). Keys like these exist in the stack (`bull:email:meta`) or can be made by anyone."""

from __future__ import annotations

import pytest
from rich.console import Console

from spotctl import output
from spotctl.errors import SpotctlError

KEYS = ["bull:email:meta", "tag:[red]x", "a:[bold]b[/]:c", ":thumbs_up:"]


@pytest.fixture
def consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh consoles, wide and colourless, bound to pytest's captured streams."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(output, "_out", None)
    monkeypatch.setattr(output, "_err", None)


def test_tables_and_titles_print_data_literally(consoles: None, capsys: pytest.CaptureFixture[str]) -> None:
    output.print_table(["key", "note"], [[k, f"from {k}"] for k in KEYS], title="keys bull:email:*")
    printed = capsys.readouterr().out
    assert "keys bull:email:*" in printed
    for key in KEYS:
        assert key in printed and f"from {key}" in printed
    assert "✉" not in printed and "👍" not in printed


def test_messages_warnings_and_errors_print_data_literally(consoles: None, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    output.info("deleted bull:email:meta and tag:[red]x")
    output.warn("queue bull:email:meta [b]x")
    err = capsys.readouterr().err
    assert "deleted bull:email:meta and tag:[red]x" in err
    assert "warning: queue bull:email:meta [b]x" in err

    from spotctl import __main__ as entry

    def fail(**_: object) -> None:
        raise SpotctlError("no key 'bull:email:[red]meta'", hint="try :email: [b]")

    monkeypatch.setattr("spotctl.app.build_app", lambda: fail)
    with pytest.raises(SystemExit):
        entry.main()
    err = capsys.readouterr().err
    assert "error: no key 'bull:email:[red]meta'" in err and "hint: try :email: [b]" in err


def test_styled_cells_keep_their_style_and_their_text() -> None:
    cell = output.styled("tag:[red]x", "green")
    assert cell.plain == "tag:[red]x" and cell.style == "green"
    assert output.literal(cell) is cell and output.literal(None).plain == ""


def test_scenario_reports_are_literal_wherever_they_are_printed() -> None:
    """The guide's report lines go to the CLI's console and to the TUI's widgets (whose RichLog reads a
    string as markup with emoji codes): they are `Text`, so neither reads them again."""
    from spotctl.guide import report
    from spotctl.guide.model import CheckResult, Outcome, StepResult

    result = StepResult(1, "Mail", Outcome.failed, 0.5, "GET /x?q=:email:", "200 [red]ok",
                        (CheckResult("redis", "redis key bull:email:meta exists", False, "tag:[red]x",
                                     look="spotctl redis get bull:email:meta"),), hint="see :email: [b]")
    console = Console(record=True, width=200, color_system=None)  # markup and emoji codes on, as Rich's default
    for line in report.result_lines(result):
        console.print(line)
    shown = console.export_text()
    for text in ("GET /x?q=:email:", "200 [red]ok", "redis key bull:email:meta exists", "tag:[red]x",
                 "spotctl redis get bull:email:meta", "see :email: [b]"):
        assert text in shown


def test_a_narrow_table_folds_long_values_instead_of_cutting_them(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """80 columns: `ps` showed RabbitMQ's endpoints as `127.0.0.1:567…`, the port lost. Folded, every
    character is still there, read top to bottom."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(output, "_out", None)
    endpoints = "127.0.0.1:5672, 127.0.0.1:15672, 127.0.0.1:15692"
    output.print_table(["SERVICE", "STATE", "ENDPOINTS", "PID", "RESTARTS", "NOTES"],
                       [["rabbitmq", "healthy", endpoints, "2363", "0", "x" * 60]])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "".join(lines)
    cells = "".join(line.split("│")[3].strip() for line in lines if line.count("│") == 7)
    assert cells == endpoints.replace(" ", "")
