"""Tail and follow log files, several at once, each line prefixed with its service (like compose)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def last_lines(path: Path, n: int) -> list[str]:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        block = min(size, max(4096, n * 200))
        fh.seek(size - block)
        data = fh.read().decode("utf-8", errors="replace")
    lines = data.splitlines()
    return lines[-n:] if n > 0 else []


def follow_files(files: Mapping[str, str], tail: int, follow: bool) -> None:
    from spotctl.output import out

    console = out()
    prefix = len(files) > 1
    width = max(len(n) for n in files)

    def emit(name: str, line: str, idx: int) -> None:
        if prefix:
            colour = _COLOURS[idx % len(_COLOURS)]
            console.print(f"[{colour}]{name.ljust(width)}[/] | ", end="", highlight=False)
            console.out(line, highlight=False)
        else:
            sys.stdout.write(line + "\n")

    offsets: dict[str, int] = {}
    for idx, (name, path) in enumerate(files.items()):
        for line in last_lines(Path(path), tail):
            emit(name, line, idx)
        offsets[name] = Path(path).stat().st_size
    sys.stdout.flush()
    while follow:
        time.sleep(0.25)
        for idx, (name, path) in enumerate(files.items()):
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
                for line in chunk.splitlines():
                    emit(name, line, idx)
                sys.stdout.flush()
