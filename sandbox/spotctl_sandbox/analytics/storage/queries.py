"""Metric queries as InfluxQL (pure): time ranges, steps, aggregations and group-bys, validated.

Every name that reaches the query text has passed a strict pattern (metric and tag names, tenants),
so no user text is ever interpolated unchecked.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from spotctl_sandbox.analytics.processing.events import TENANT_RE
from spotctl_sandbox.analytics.processing.points import BREAKDOWNS
from spotctl_sandbox.analytics.processing.windows import DEFAULT_WINDOWS, SERIES
from spotctl_sandbox.analytics.storage.line_protocol import NAME_RE

AGGREGATIONS = ("sum", "mean", "min", "max", "count", "last", "median")
GAUGES = frozenset({"active_users", "error_rate", "hub_connections"})  # summing these over time means nothing
WINDOWS = tuple(w.name for w in DEFAULT_WINDOWS)
STREAM = frozenset(SERIES) | frozenset(BREAKDOWNS)
MAX_BUCKETS = 10_000
_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class QueryError(ValueError):
    """The query's parameters are wrong; the message names the parameter and what it accepts."""


def duration(text: str, what: str) -> int:
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise QueryError(f"{what} {text!r}: a duration like 30s, 1m, 5m, 1h, 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def instant(text: str | None, default: float, what: str, now: float | None = None) -> float:
    """`now`, `-1h` (relative), epoch seconds, or ISO 8601 -> epoch seconds."""
    now = time.time() if now is None else now
    if text is None or text.strip() == "":
        return default
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("-"):
        return now - duration(text[1:], what)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{what} {text!r}: use now, -1h, epoch seconds or ISO 8601") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


@dataclass(frozen=True)
class MetricQuery:
    metric: str
    tenant: str | None
    start: float
    end: float
    step_s: int | None          # None: one value per group over the whole range
    aggregation: str
    window: str | None           # the stream's window series; None for collected metrics
    group_by: str | None

    @classmethod
    def build(cls, *, metric: str, tenant: str | None, start: str | None, end: str | None, step: str | None,
              aggregation: str | None, window: str | None, group_by: str | None, bucketed: bool = True) -> MetricQuery:
        if not NAME_RE.match(metric):
            raise QueryError(f"metric {metric!r}: lower-case letters, digits and '_'")
        if tenant is not None and not TENANT_RE.match(tenant):
            raise QueryError(f"tenant {tenant!r}: 1-64 letters, digits, '_', '.' or '-'")
        now = time.time()
        end_s = instant(end, now, "end", now)
        start_s = instant(start, end_s - 3600, "start", now)
        if start_s >= end_s:
            raise QueryError("start must be before end")
        step_s = duration(step or "1m", "step") if bucketed else None
        if step_s is not None and (end_s - start_s) / step_s > MAX_BUCKETS:
            raise QueryError(f"{(end_s - start_s) / step_s:.0f} steps of {step}: at most {MAX_BUCKETS}; "
                             "use a larger step or a shorter range")
        agg = aggregation or ("mean" if metric in GAUGES or metric not in STREAM else "sum")
        if agg not in AGGREGATIONS:
            raise QueryError(f"aggregation {agg!r}: one of {', '.join(AGGREGATIONS)}")
        if metric in STREAM:
            window = window or "1m"
            if window not in WINDOWS:
                raise QueryError(f"window {window!r}: one of {', '.join(WINDOWS)}")
        elif window is not None:
            raise QueryError(f"window applies to the stream's series only; {metric!r} is a collected metric")
        if group_by is not None and (not NAME_RE.match(group_by) or group_by in ("time", "window")):
            raise QueryError(f"group_by {group_by!r}: a tag name such as tenant, song_id, type")
        return cls(metric, tenant, start_s, end_s, step_s, agg, window, group_by)

    def influxql(self) -> str:
        where = [f"time >= {int(self.start * 1000)}ms", f"time < {int(self.end * 1000)}ms"]
        if self.tenant is not None:
            where.append(f"\"tenant\" = '{self.tenant}'")
        if self.window is not None:
            where.append(f"\"window\" = '{self.window}'")
        groups = [f"time({self.step_s}s)"] if self.step_s else []
        if self.group_by:
            groups.append(f'"{self.group_by}"')
        group = f" GROUP BY {', '.join(groups)}" if groups else ""
        fill = " fill(none)" if self.step_s else ""
        return f'SELECT {self.aggregation}("value") AS value FROM "{self.metric}" WHERE {" AND ".join(where)}' \
               f"{group}{fill}"
