"""Output conventions shared by every command: data to stdout, messages to stderr.

`--output json` is for scripts and stays stable; tables are for people. Rich honours NO_COLOR and
TERM=dumb by itself; spinners are shown only on a terminal.

Data is printed literally: a key `bull:email:meta` or `tag:[red]x` must read (and copy-paste) as
stored, so nothing here reads text as Rich markup or `:emoji:` codes. Styling is applied as `styled()`
cells (a `rich.text.Text`), never by markup inside a string that may hold data.
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
    from rich.text import Text


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

        _out = Console(soft_wrap=True, width=_width(sys.stdout), emoji=False, markup=False)
    return _out


def err() -> Console:
    global _err
    if _err is None:
        from rich.console import Console

        _err = Console(stderr=True, soft_wrap=True, width=_width(sys.stderr), emoji=False, markup=False)
    return _err


def literal(value: Any) -> Text:
    """`value` as text shown exactly as it is (no markup, no emoji codes); a `Text` is kept as it is."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def styled(value: Any, style: str) -> Text:
    """`value` shown literally in `style` (a colour for a state, dim for an absent value)."""
    from rich.text import Text

    return Text("" if value is None else str(value), style=style)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) so `| jq` always works."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.table import Table

    table = Table(title=None if title is None else literal(title), header_style="bold", title_justify="left")
    cells = [[literal(v) for v in row] for row in rows]
    for i, col in enumerate(columns):
        # a column of short tokens (names, addresses, numbers) keeps its width; prose columns wrap to
        # make room, and a long value folds rather than being cut off with "…"
        table.add_column(literal(col), overflow="fold", no_wrap=_tokens([row[i] for row in cells if i < len(row)]))
    for row in cells:
        table.add_row(*row)
    out().print(table)


def _tokens(cells: list[Text]) -> bool:
    lines = [line for cell in cells for line in cell.plain.splitlines()]
    return all(" " not in line and len(line) <= 24 for line in lines)


def print_wrapped(renderable: Any, indent: int = 0) -> None:
    """`renderable` (markdown, a long line) wrapped at the console's width, each line stripped of the
    padding Rich adds, continuation lines indented by `indent`: prose is never cut, and piped output
    carries no trailing blanks."""
    from rich.segment import Segment
    from rich.text import Text

    console = out()
    options = console.options.update(width=max(20, console.width - indent))
    for line in console.render_lines(renderable, options, pad=False):
        while line and not line[-1].text.strip() and not line[-1].control:
            line.pop()
        if line:
            line[-1] = Segment(line[-1].text.rstrip(), line[-1].style, line[-1].control)
        text = Text(" " * indent)
        for seg in line:
            text.append(seg.text, seg.style)
        console.print(text, soft_wrap=True)


def print_lines(lines: Iterable[Text]) -> None:
    """Report lines (`"  verify: ..."`) wrapped at the console's width, a wrapped line keeping its indent."""
    for line in lines:
        depth = len(line.plain) - len(line.plain.lstrip(" "))
        print_wrapped(line[depth:], indent=depth)


def emit(data: Any, fmt: OutputFormat, columns: Sequence[str], rows: Iterable[Sequence[Any]],
         title: str | None = None) -> None:
    """Print `data` as JSON, or `rows` as a table: one call site per command, both shapes in view."""
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        print_table(columns, rows, title)


def info(message: str | Text) -> None:
    """A message on stderr, printed literally (it often quotes a key, a queue or a log line)."""
    err().print(literal(message), highlight=False)


def warn(message: str) -> None:
    from rich.text import Text

    err().print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False)


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on a terminal, nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        yield
        return
    with err().status(literal(message)):
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
