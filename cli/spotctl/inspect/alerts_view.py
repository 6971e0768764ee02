"""Alerts as `spotctl alerts list` and the TUI show them (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spotctl.errors import UsageError


@dataclass(frozen=True)
class RuleAlert:
    """An alert as Prometheus evaluates it: pending (its `for:` not yet over) or firing."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    active_at: dt.datetime | None
    value: float

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class ManagedAlert:
    """An alert as Alertmanager holds it: active, or suppressed by silences / inhibitions."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    starts_at: dt.datetime | None
    fingerprint: str
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    regex: bool = False
    equal: bool = True

    def __str__(self) -> str:
        op = ("=~" if self.regex else "=") if self.equal else ("!~" if self.regex else "!=")
        return f"{self.name}{op}{self.value}"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.regex, "isEqual": self.equal}


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    state: str  # active | pending | expired
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    created_by: str = ""
    comment: str = ""


@dataclass(frozen=True)
class AlertRow:
    """One line of `spotctl alerts list`: Prometheus' view, with Alertmanager's suppression added."""

    name: str
    state: str  # pending | firing | silenced | inhibited
    severity: str
    since: dt.datetime | None
    labels: Mapping[str, str]
    summary: str
    silenced_by: tuple[str, ...] = field(default=())


def merge_alerts(rules: Sequence[RuleAlert], managed: Sequence[ManagedAlert]) -> list[AlertRow]:
    """Prometheus' pending and firing alerts, marked silenced/inhibited when Alertmanager suppresses
    them, plus alerts only Alertmanager has (sent by something else, like `spotctl alerts test`)."""
    by_labels = {frozenset(m.labels.items()): m for m in managed}
    rows, seen = [], set()
    for alert in rules:
        key = frozenset(alert.labels.items())
        held = by_labels.get(key)
        seen.add(key)
        rows.append(_row(alert.labels, alert.annotations, alert.state, alert.active_at, held))
    for key, held in by_labels.items():
        if key not in seen:
            rows.append(_row(held.labels, held.annotations, "firing", held.starts_at, held))
    order = {"firing": 0, "pending": 1, "inhibited": 2, "silenced": 3}
    return sorted(rows, key=lambda r: (order.get(r.state, 9), r.name, sorted(r.labels.items())))


def _row(labels: Mapping[str, str], annotations: Mapping[str, str], state: str, since: dt.datetime | None,
         held: ManagedAlert | None) -> AlertRow:
    if held is not None and held.state == "suppressed":
        state = "silenced" if held.silenced_by else "inhibited"
    rest = {k: v for k, v in labels.items() if k not in ("alertname", "severity")}
    return AlertRow(labels.get("alertname", ""), state, labels.get("severity", ""), since, rest,
                    annotations.get("summary", ""), held.silenced_by if held else ())


def age(since: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'42s', '5m', '3h12m', '2d4h' (empty when unknown)."""
    if since is None:
        return ""
    seconds = int(((now or dt.datetime.now(dt.UTC)) - since).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h{minutes % 60:02d}m"
    return f"{days}d{hours % 24}h"


def parse_matchers(specs: Sequence[str]) -> list[Matcher]:
    """`alertname=RedisDown`, `service=~redis|postgres`, `instance!=x`; a bare word is an alert name."""
    import re

    matchers = []
    for spec in specs:
        found = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.+)", spec)
        if found:
            name, op, value = found.groups()
            matchers.append(Matcher(name, value, regex="~" in op, equal=not op.startswith("!")))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_:]*", spec):
            matchers.append(Matcher("alertname", spec))
        else:
            raise UsageError(f"bad matcher {spec!r}", hint="use NAME=VALUE, NAME=~REGEX, NAME!=VALUE, or an alert name")
    if not matchers:
        raise UsageError("say what to silence", hint="e.g. `spotctl alerts silence RedisDown --for 1h`")
    return matchers


def parse_duration(text: str) -> dt.timedelta:
    """'90s', '15m', '2h', '1d', '1h30m' (Prometheus' units)."""
    import re

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = re.fullmatch(r"(?:\d+[smhdw])+", text.strip())
    if not parts:
        raise UsageError(f"bad duration {text!r}", hint="use e.g. 30s, 15m, 2h, 1d or 1h30m")
    seconds = sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    if seconds <= 0:
        raise UsageError(f"duration {text!r} is zero")
    return dt.timedelta(seconds=seconds)
