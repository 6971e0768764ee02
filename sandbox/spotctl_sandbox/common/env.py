"""One way to read settings from the environment, for the services and the CLI alike.

A value that cannot be used is an `EnvError` naming the variable, what it holds and what was
expected (`HUB_CONN_RATE='fast' is not a number`), raised where the setting is read; each entry
point turns it into one line and exit code 2. An empty or blank variable counts as unset.

    env = Env()                          # os.environ (or any mapping, for tests)
    port = env.port("PORT", 8000)
    rate = env.number("HUB_CONN_RATE", 20.0, minimum=0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class EnvError(ValueError):
    """A variable holds something the setting cannot use; the message names the variable."""

    def __init__(self, name: str, raw: str, expected: str) -> None:
        super().__init__(f"{name}={raw!r} is not {expected}")
        self.name, self.raw, self.expected = name, raw, expected


@dataclass(frozen=True)
class Env:
    source: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def raw(self, name: str) -> str | None:
        """The variable stripped, or None when it is unset or blank."""
        value = self.source.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def path(self, name: str, default: Path | str) -> Path:
        return Path(self.raw(name) or default)

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise EnvError(name, raw, "a whole number") from None
        _within(name, raw, value, minimum, maximum)
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None,
               maximum: float | None = None) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise EnvError(name, raw, "a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise EnvError(name, raw, "a finite number")
        _within(name, raw, value, minimum, maximum)
        return value

    def port(self, name: str, default: int) -> int:
        """A TCP port: 0 (let the system choose) to 65535."""
        try:
            return self.integer(name, default, minimum=0, maximum=65535)
        except EnvError as exc:
            raise EnvError(name, exc.raw, "a port number (0-65535)") from None


def _within(name: str, raw: str, value: float, minimum: float | None, maximum: float | None) -> None:
    too_low = minimum is not None and value < minimum
    too_high = maximum is not None and value > maximum
    if not (too_low or too_high):
        return
    if minimum is not None and maximum is not None:
        raise EnvError(name, raw, f"between {minimum:g} and {maximum:g}")
    raise EnvError(name, raw, f"at least {minimum:g}" if too_low else f"at most {maximum:g}")
