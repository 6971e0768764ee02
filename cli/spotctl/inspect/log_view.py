"""Log lines as `spotctl logs --json` and `spotctl trace` read them (pure: no I/O).

The sandbox's services and the gateway write JSON lines (`ts`, `level`, `service`, `msg`,
`correlation_id`: spotctl_sandbox.common.logs); the stores write text in their own formats. Both
become a `LogLine`; a text line gets the time its own format states, else that of the line before
it in the same file, so merged logs keep each file's order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIELD = "correlation_id"  # spotctl_sandbox.common.logs.FIELD: the team's contract
_CORE = ("ts", "level", "service", "msg", FIELD)
# 2026-12-02T10:00:00.123Z, 2026-12-02 10:00:00,123, 2026-12-02 10:00:00.123 UTC, ...+00:00
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?\s*(Z|UTC|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class LogLine:
    service: str
    ts: float | None
    level: str
    msg: str
    correlation_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def started(self) -> float | None:
        """When the work it reports began: access lines are written at the end of a request and say how
        long it took (the gateway's `request_s`, the API's `ms`), so a trace can put them first. The
        API's line also says when it `began` (epoch seconds to the microsecond): its `ts` is cut to the
        millisecond, so ts - ms can fall up to 1 ms early, before the gateway's start for the same
        request (nginx states its start to the millisecond, never late)."""
        began = self.extra.get("began")
        if isinstance(began, int | float) and not isinstance(began, bool):
            return float(began)
        if self.ts is None:
            return None
        took = self.extra.get("request_s")
        if not isinstance(took, int | float):
            ms = self.extra.get("ms")
            took = ms / 1000 if isinstance(ms, int | float) else 0.0
        return self.ts - float(took)

    def as_json(self) -> dict[str, Any]:
        when = None if self.ts is None else dt.datetime.fromtimestamp(self.ts, dt.UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        return {"ts": when, "level": self.level, "service": self.service, "msg": self.msg,
                FIELD: self.correlation_id, **self.extra}


def when(value: Any) -> float | None:
    """Epoch seconds from a JSON `ts` (ISO text or epoch number) or a text line's leading timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    found = _ISO.search(value[:64])
    if not found:
        return None
    day, clock, fraction, zone = found.groups()
    try:
        moment = dt.datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if zone and zone not in ("Z", "UTC"):
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        moment -= sign * dt.timedelta(hours=hours, minutes=minutes)
    seconds = moment.replace(tzinfo=dt.UTC).timestamp()
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


def parse(service: str, raw: str) -> LogLine:
    text = raw.rstrip("\n")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            cid = data.get(FIELD)
            return LogLine(str(data.get("service") or service), when(data.get("ts")), str(data.get("level") or ""),
                           str(data.get("msg", "")), cid if isinstance(cid, str) and cid else None,
                           {k: v for k, v in data.items() if k not in _CORE})
    return LogLine(service, when(text), "", text)


def readable(raw: str) -> str:
    """A JSON log line as a person reads it: `10:00:00.123 INFO    message  [correlation id]` (and the
    traceback under it); any other line unchanged."""
    if not raw.startswith("{"):
        return raw
    line = parse("", raw)
    if line.ts is None and not line.msg:
        return raw
    clock = dt.datetime.fromtimestamp(line.ts, dt.UTC).strftime("%H:%M:%S.%f")[:-3] if line.ts is not None else ""
    text = f"{clock} {line.level:<7} {line.msg}" + (f"  [{line.correlation_id}]" if line.correlation_id else "")
    exc = line.extra.get("exc")
    return f"{text}\n{exc}" if isinstance(exc, str) and exc else text


def merged(files: Mapping[str, Sequence[str]]) -> list[LogLine]:
    """Every file's lines in one time order (stable: a line without a time follows its predecessor)."""
    lines: list[tuple[float, int, LogLine]] = []
    order = 0
    for service, raws in files.items():
        last = 0.0
        for raw in raws:
            line = parse(service, raw)
            if line.ts is not None:
                last = line.ts
            lines.append((last, order, line))
            order += 1
    return [line for _, _, line in sorted(lines, key=lambda item: (item[0], item[1]))]


def trace(lines: Iterable[LogLine], correlation_id: str) -> list[LogLine]:
    """The lines of one request, in the order their work began."""
    return sorted((line for line in lines if line.correlation_id == correlation_id),
                  key=lambda line: line.started if line.started is not None else 0.0)
