"""Alert conditions and their for-duration state machine (pure).

A condition is `<series> <op> <number>` over a tenant's final 1 min window, e.g. `error_rate > 0.05`
(series: processing.windows.SERIES). A rule fires when its condition has held for `for_s` seconds of
event time (consecutive minutes), and resolves on the first minute it does not hold. ML alerts are
the same machine over the anomaly score (`score >= threshold`), their sensitivity giving `for_s`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from spotctl_sandbox.analytics.processing.windows import SERIES

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")
SENSITIVITY_MINUTES = {"high": 1, "medium": 2, "low": 3}  # consecutive anomalous minutes before firing


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def priority(self) -> str:
        """The hub notification priority an alert of this severity is sent with."""
        return {"info": "NORMAL", "warning": "HIGH", "critical": "CRITICAL"}[self.value]


@dataclass(frozen=True)
class Condition:
    series: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Raise ValueError saying what is wrong and what is allowed."""
        match = _CONDITION.match(text)
        if not match:
            raise ValueError(f"condition {text!r} is not `<series> <op> <number>` (e.g. `error_rate > 0.05`); "
                             f"ops: {' '.join(_OPS)}")
        series, op, number = match.groups()
        if series not in SERIES:
            raise ValueError(f"unknown series {series!r} in condition; known: {', '.join(SERIES)}")
        return cls(series, op, float(number))

    def holds(self, values: dict[str, float]) -> tuple[bool, float]:
        value = float(values.get(self.series, 0.0))
        return _OPS[self.op](value, self.threshold), value

    def __str__(self) -> str:
        return f"{self.series} {self.op} {self.threshold:g}"


class AlertState(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True)
class Transition:
    state: str      # firing | resolved
    value: float
    at: float       # the end of the window that decided it


class ForDuration:
    """One rule on one tenant: ok -> pending -> firing after `for_s` -> resolved (back to ok)."""

    def __init__(self, for_s: float) -> None:
        self.for_s = for_s
        self.state = AlertState.OK
        self.since: float | None = None

    def observe(self, holds: bool, value: float, start: float, end: float) -> Transition | None:
        if not holds:
            was_firing = self.state is AlertState.FIRING
            self.state, self.since = AlertState.OK, None
            return Transition("resolved", value, end) if was_firing else None
        if self.since is None:
            self.since = start
        if self.state is AlertState.FIRING:
            return None
        if end - self.since >= self.for_s:
            self.state = AlertState.FIRING
            return Transition("firing", value, end)
        self.state = AlertState.PENDING
        return None


def ml_for_s(sensitivity: str) -> int:
    if sensitivity not in SENSITIVITY_MINUTES:
        raise ValueError(f"sensitivity must be one of {', '.join(SENSITIVITY_MINUTES)}, not {sensitivity!r}")
    return SENSITIVITY_MINUTES[sensitivity] * 60
