"""Tail and follow log files, several at once, each line prefixed with its service (like compose).

Several services' lines are merged by the time each line states (the stores each write their own format),
so a request can be followed across them; a line that states none keeps its place after the line before
it in its file. Off a terminal, terminal colour codes (RabbitMQ's) are stripped: a file or a pipe gets
plain text.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
# The formats of this stack's logs: ISO (Python, PostgreSQL, RabbitMQ, JSON `ts`, Prometheus `ts=`),
# nginx's error log (2026/12/02 04:43:56), its access log ([02/Dec/2026:04:43:56 +0000]), Redis
# (18793:M 02 Dec 2026 04:43:31.209).
_CLOCK = r"(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*"
_ISO = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})[T ]" + _CLOCK + r"(Z|UTC|[+-]\d{2}:?\d{2})?")
_DAY_FIRST = re.compile(r"(\d{2})[ /]([A-Z][a-z]{2})[ /](\d{4})[ :]" + _CLOCK + r"([+-]\d{4})?")


def strip_ansi(line: str) -> str:
    return _ANSI.sub("", line)


def line_time(line: str) -> float | None:
    """Epoch seconds of the time a log line starts with (within its first 80 characters); naive times
    are local time, as the servers write them."""
    head = line[:80]
    found = _ISO.search(head)
    if found:
        year, month, day, hour, minute, second, fraction, zone = found.groups()
    else:
        other = _DAY_FIRST.search(head)
        if not other or other.group(2) not in _MONTHS:
            return None
        day, month_name, year, hour, minute, second, fraction, zone = other.groups()
        month = str(_MONTHS[month_name])
    try:
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    if zone in ("Z", "UTC"):
        moment = moment.replace(tzinfo=dt.UTC)
    elif zone:
        sign, digits = (1 if zone[0] == "+" else -1), zone[1:].replace(":", "")
        moment = moment.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=int(digits[:2]),
                                                                       minutes=int(digits[2:]))))
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def merged(files: Mapping[str, Iterable[str]], since: Mapping[str, float] | None = None) -> list[tuple[str, str]]:
    """(service, line) of every file, in the order of the times the lines state; a line without one
    follows its predecessor (or, first in its file, `since[service]`)."""
    keyed = []
    for order, (name, lines) in enumerate(files.items()):
        last = (since or {}).get(name, 0.0)
        for index, line in enumerate(lines):
            last = line_time(line) or last
            keyed.append(((last, order, index), name, line))
    return [(name, line) for _, name, line in sorted(keyed, key=lambda item: item[0])]


def last_lines(path: Path, n: int) -> list[str]:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        block = min(size, max(4096, n * 200))
        fh.seek(size - block)
        data = fh.read().decode("utf-8", errors="replace")
    lines = data.splitlines()
    return lines[-n:] if n > 0 else []


def follow_files(files: Mapping[str, str], tail: int, follow: bool,
                 write: Callable[[str, str], None] | None = None,
                 transform: Callable[[str], str] | None = None) -> None:
    """Print the last `tail` lines of each file, then (`follow`) new lines as they come; `write(service,
    line)` replaces the prefixed printing (e.g. `logs --json`), `transform(line)` rewrites each line."""
    from rich.text import Text

    from spotctl.output import out

    console = out()
    prefix = len(files) > 1
    width = max(len(n) for n in files)
    colour = {name: _COLOURS[i % len(_COLOURS)] for i, name in enumerate(files)}
    plain = not sys.stdout.isatty()
    last: dict[str, float] = {}

    def emit(batch: Mapping[str, list[str]]) -> None:
        for name, line in merged(batch, last) if prefix else [(n, x) for n, lines in batch.items() for x in lines]:
            last[name] = line_time(line) or last.get(name, 0.0)
            line = strip_ansi(line) if plain else line
            if transform is not None:
                line = transform(line)
            if write is not None:
                write(name, line)
            elif prefix:
                console.print(Text.assemble((name.ljust(width), colour[name]), " | "), end="", highlight=False)
                console.out(line, highlight=False)
            else:
                sys.stdout.write(line + "\n")
        sys.stdout.flush()

    offsets: dict[str, int] = {}
    emit({name: last_lines(Path(path), tail) for name, path in files.items()})
    for name, path in files.items():
        offsets[name] = Path(path).stat().st_size
    while follow:
        time.sleep(0.25)
        batch: dict[str, list[str]] = {}
        for name, path in files.items():
            try:
                size = Path(path).stat().st_size
            except OSError:
                continue
            if size < offsets[name]:
                offsets[name] = 0  # truncated or rotated
            if size > offsets[name]:
                with open(path, "rb") as fh:
                    fh.seek(offsets[name])
                    chunk = fh.read(size - offsets[name]).decode("utf-8", errors="replace")
                offsets[name] = size
                batch[name] = chunk.splitlines()
        if batch:
            emit(batch)
