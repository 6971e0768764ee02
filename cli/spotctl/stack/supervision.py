"""The supervisor's decisions, without I/O: should a service that exited be started again, and when.

Compose's `restart:` policy decides *whether* (`no`, `on-failure[:N]`, `always`, `unless-stopped`);
the backoff decides *when*: 0.5 s after the first crash, doubling up to 30 s for a service that keeps
dying within `STABLE_S` of its start. From the fifth quick crash in a row it is a crash loop: still
retried (a store that comes back heals the stack), but reported as such by `spotctl ps`/`health`.
Pure functions over plain data, so the rules are tested without processes (`supervisor.py` is the I/O).
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_S = 10.0  # a run this long resets the backoff (Docker uses 10 s too)
CRASH_LOOP_AFTER = 5  # quick crashes in a row


class Mode(StrEnum):
    no = "no"
    always = "always"
    on_failure = "on-failure"
    unless_stopped = "unless-stopped"


@dataclass(frozen=True)
class RestartPolicy:
    mode: Mode
    max_retries: int | None = None  # on-failure:N

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        """Compose's syntax; an unknown value is an error naming the valid ones."""
        match = re.fullmatch(r"(no|always|unless-stopped|on-failure)(?::(\d+))?", text.strip().strip('"'))
        if match is None or (match.group(2) and match.group(1) != "on-failure"):
            raise ValueError(f"restart: {text!r} is not a Compose restart policy "
                             "(no, always, on-failure[:N], unless-stopped)")
        retries = int(match.group(2)) if match.group(2) else None
        return cls(Mode(match.group(1)), retries)

    def __str__(self) -> str:
        return self.mode.value + (f":{self.max_retries}" if self.max_retries is not None else "")


@dataclass(frozen=True)
class Exit:
    """How a run ended. `code` is None when the process was not our child (adopted after a restart
    of the supervisor): we saw it go, not why."""

    at: float
    code: int | None
    uptime_s: float
    last_line: str = ""

    @property
    def failed(self) -> bool:
        return self.code != 0

    @property
    def reason(self) -> str:
        if self.code is None:
            why = "exited (exit status unknown: started before this supervisor)"
        elif self.code < 0:
            try:
                why = f"killed by {signal.Signals(-self.code).name}"
            except ValueError:
                why = f"killed by signal {-self.code}"
        else:
            why = f"exit code {self.code}"
        said = self.code is not None and self.code >= 0  # a killed process said nothing about why
        return f"{why}: {self.last_line}" if said and self.last_line else why


@dataclass(frozen=True)
class Record:
    """What the supervisor remembers about one service across its runs (persisted as JSON)."""

    restarts: int = 0
    quick_failures: int = 0  # crashes in a row, each within STABLE_S of its start
    last_exit: Exit | None = None
    next_start_at: float | None = None  # a restart is due then
    gave_up: str = ""  # why no restart will come (policy), shown by ps
    history: tuple[float, ...] = field(default_factory=tuple)  # recent restart times

    @property
    def crash_loop(self) -> bool:
        return self.quick_failures >= CRASH_LOOP_AFTER


def backoff(quick_failures: int) -> float:
    """0.5 s, 1 s, 2 s, ... up to 30 s."""
    if quick_failures <= 0:
        return BACKOFF_FIRST_S
    return float(min(BACKOFF_FIRST_S * 2 ** (quick_failures - 1), BACKOFF_MAX_S))


def on_exit(policy: RestartPolicy, record: Record, exit_: Exit) -> Record:
    """The record after a run ended on its own (not stopped by `down` or `chaos stop`)."""
    quick = record.quick_failures + 1 if exit_.uptime_s < STABLE_S else 1
    if not exit_.failed:
        quick = 0
    base = replace(record, last_exit=exit_, quick_failures=quick, next_start_at=None, gave_up="")
    if policy.mode is Mode.no:
        return replace(base, gave_up="restart policy is 'no'")
    if policy.mode is Mode.on_failure and not exit_.failed:
        return replace(base, gave_up="exited cleanly; restart policy is 'on-failure'")
    if policy.mode is Mode.on_failure and policy.max_retries is not None and quick > policy.max_retries:
        return replace(base, gave_up=f"gave up after {policy.max_retries} restarts (on-failure:{policy.max_retries})")
    return replace(base, next_start_at=exit_.at + backoff(quick))


def on_restart(record: Record, now: float) -> Record:
    """Count a restart the supervisor made (history kept short, for 'restarts in the last minute')."""
    recent = tuple(t for t in record.history if now - t < 300)[-20:] + (now,)
    return replace(record, restarts=record.restarts + 1, next_start_at=None, history=recent)


def on_stable(record: Record) -> Record:
    """A run outlived STABLE_S: the next crash is treated as a first one again."""
    return replace(record, quick_failures=0) if record.quick_failures else record


def summary(record: Record, now: float, with_exit: bool = True) -> str:
    """One line for `ps`: crash loop, pending restart, or the last exit."""
    parts = []
    if record.crash_loop:
        parts.append(f"CRASH LOOP ({record.quick_failures} quick exits in a row)")
    if record.next_start_at is not None:
        parts.append(f"restarting in {max(0.0, record.next_start_at - now):.1f}s")
    if record.gave_up:
        parts.append(record.gave_up)
    if record.last_exit is not None and with_exit:
        ago = now - record.last_exit.at
        parts.append(f"last exit {ago:.0f}s ago: {record.last_exit.reason}")
    return "; ".join(parts)


def to_json(record: Record) -> dict[str, object]:
    data: dict[str, object] = {"restarts": record.restarts, "quick_failures": record.quick_failures,
                               "next_start_at": record.next_start_at, "gave_up": record.gave_up,
                               "history": list(record.history), "last_exit": None}
    if record.last_exit is not None:
        e = record.last_exit
        data["last_exit"] = {"at": e.at, "code": e.code, "uptime_s": e.uptime_s, "last_line": e.last_line}
    return data


def from_json(data: dict[str, Any]) -> Record:
    raw_exit = data.get("last_exit")
    exit_ = None
    if isinstance(raw_exit, dict):
        code = raw_exit.get("code")
        exit_ = Exit(at=float(raw_exit["at"]), code=None if code is None else int(code),
                     uptime_s=float(raw_exit.get("uptime_s") or 0.0), last_line=str(raw_exit.get("last_line") or ""))
    next_at = data.get("next_start_at")
    return Record(restarts=int(data.get("restarts") or 0), quick_failures=int(data.get("quick_failures") or 0),
                  last_exit=exit_, next_start_at=None if next_at is None else float(next_at),
                  gave_up=str(data.get("gave_up") or ""),
                  history=tuple(float(t) for t in data.get("history") or ()))
