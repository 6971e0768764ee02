"""Output conventions shared by every command: data to stdout, messages to stderr.

`--output json` is for scripts and stays stable; tables are for people. Rich honours NO_COLOR and
TERM=dumb by itself; spinners are shown only on a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="table for people, json for scripts.")
]

_out: Console | None = None
_err: Console | None = None


def _width(stream: Any) -> int | None:
    """Piped output is read by tools and wide logs, not an 80-column tty: don't wrap tables there."""
    from spotctl_sandbox.common.env import Env

    return None if stream.isatty() or Env().optional("COLUMNS") else 160


def out() -> Console:
    global _out
    if _out is None:
        from rich.console import Console

        _out = Console(soft_wrap=True, width=_width(sys.stdout))
    return _out


def err() -> Console:
    global _err
    if _err is None:
        from rich.console import Console

        _err = Console(stderr=True, soft_wrap=True, width=_width(sys.stderr))
    return _err


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) so `| jq` always works."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out().print(table)


def emit(data: Any, fmt: OutputFormat, columns: Sequence[str], rows: Iterable[Sequence[Any]],
         title: str | None = None) -> None:
    """Print `data` as JSON, or `rows` as a table: one call site per command, both shapes in view."""
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        print_table(columns, rows, title)


def info(message: str) -> None:
    err().print(message, highlight=False)


def warn(message: str) -> None:
    err().print(f"[yellow]warning:[/] {message}", highlight=False)


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on a terminal, nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        yield
        return
    with err().status(message):
        yield


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(question: str, yes: bool) -> None:
    """Destructive actions need `--yes`, or an interactive 'y'. Never prompts without a terminal."""
    from spotctl.errors import SpotctlError, UsageError

    if yes:
        return
    if not is_interactive():
        raise UsageError(f"refusing to {question} without confirmation",
                         hint="re-run with --yes to confirm (no terminal to ask on)")
    if not typer.confirm(f"{question[0].upper()}{question[1:]}?", default=False, err=True):
        raise SpotctlError("aborted; nothing was changed")
