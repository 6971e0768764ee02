"""Where `spotctl kafka tail` starts, how lag is counted, and how a record is shown (no I/O here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from spotctl.errors import UsageError
from spotctl.inspect.values import decode, maybe_json

Partition = tuple[str, int]  # (topic, partition): hashable without the client library


class Start(Enum):
    LAST = "last"  # the newest n records, like `tail`
    BEGINNING = "beginning"
    OFFSET = "offset"


@dataclass(frozen=True)
class TailPlan:
    start: Start
    n: int | None  # None: no limit (only with --follow)
    offset: int | None = None

    @classmethod
    def from_flags(cls, from_beginning: bool, offset: int | None, n: int | None, follow: bool) -> TailPlan:
        if from_beginning and offset is not None:
            raise UsageError("--from-beginning and --offset are exclusive")
        start = Start.BEGINNING if from_beginning else Start.OFFSET if offset is not None else Start.LAST
        if n is None and not follow:
            n = 10 if start is Start.LAST else 100
        return cls(start, n, offset)

    def first_offsets(self, begin: Mapping[Partition, int], end: Mapping[Partition, int]) -> dict[Partition, int]:
        """Per partition, the offset to seek to (never before what the broker still holds).

        `--offset` is not clamped to the reported end: tansu reports the end of a multi-record batch
        as its base offset + 1, so records past the "end" may exist; reading finds out.
        """
        starts = {}
        for tp, lo in begin.items():
            if self.start is Start.BEGINNING:
                starts[tp] = lo
            elif self.start is Start.OFFSET:
                starts[tp] = max(self.offset or 0, lo)
            else:
                starts[tp] = max(lo, end[tp] - (self.n or 0))
        return starts

    def per_partition_cap(self) -> int | None:
        """Reading forward, no partition can contribute more than n records to the first n."""
        return None if self.start is Start.LAST else self.n

    def select(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to print from everything read up to the end: oldest first, at most n."""
        ordered = sorted(records, key=lambda r: (r["timestamp_ms"], r["partition"], r["offset"]))
        if self.n is None:
            return ordered
        return ordered[-self.n:] if self.start is Start.LAST else ordered[: self.n]


def record_view(topic: str, partition: int, offset: int, timestamp_ms: int, key: bytes | None,
                value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> dict[str, Any]:
    return {"topic": topic, "partition": partition, "offset": offset, "timestamp_ms": timestamp_ms,
            "time": dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC).isoformat(timespec="milliseconds"),
            "key": decode(key), "value": maybe_json(decode(value)),
            "headers": {k: decode(v) for k, v in headers or []}}


def record_line(r: Mapping[str, Any]) -> str:
    import json

    value = r["value"] if isinstance(r["value"], str) else json.dumps(r["value"], ensure_ascii=False)
    key = f" key={r['key']}" if r["key"] is not None else ""
    return f"{r['time'][11:23]} p{r['partition']}@{r['offset']}{key} {value}"


def lag_rows(committed: Mapping[Partition, int], end: Mapping[Partition, int]) -> list[dict[str, Any]]:
    """Per partition: committed offset, log end, lag (never negative; a missing end counts as unknown)."""
    rows = []
    for (topic, part), pos in sorted(committed.items()):
        log_end = end.get((topic, part))
        lag = None if log_end is None else max(0, log_end - pos)
        rows.append({"topic": topic, "partition": part, "committed": pos, "end": log_end, "lag": lag})
    return rows


class Reset(Enum):
    EARLIEST = "earliest"
    LATEST = "latest"
    OFFSET = "offset"
    SHIFT = "shift"


def reset_targets(mode: Reset, value: int | None, current: Mapping[Partition, int | None],
                  begin: Mapping[Partition, int], end: Mapping[Partition, int]) -> dict[Partition, int]:
    """New committed offsets, clamped into [earliest, latest] as kafka-consumer-groups.sh does."""
    targets = {}
    for tp in current:
        lo, hi = begin[tp], end[tp]
        if mode is Reset.EARLIEST:
            want = lo
        elif mode is Reset.LATEST:
            want = hi
        elif mode is Reset.OFFSET:
            want = value or 0
        else:
            want = (current[tp] if current[tp] is not None else lo) + (value or 0)  # type: ignore[operator]
        targets[tp] = min(max(want, lo), hi)
    return targets


def parse_partitions(spec: str | None) -> set[int] | None:
    """`--partition 0,2` as a set; None means all."""
    if spec is None:
        return None
    try:
        return {int(p) for p in spec.split(",") if p.strip()}
    except ValueError:
        raise UsageError(f"--partition {spec!r} is not a comma-separated list of numbers") from None


def stop_consumers_hint(group: str, topics: Sequence[str] = ()) -> str:
    """How to get a group's consumers out of the way (offsets of a group with members cannot be moved):
    the stack's own consumers are the workers."""
    from spotctl_sandbox import contract

    whose = "the stack's workers consume it" if group == contract.ANALYTICS_GROUP else "if they are the stack's workers"
    only = "".join(f" --topic {t}" for t in topics)
    return (f"stop its consumers first ({whose}: `spotctl down workers`), then `spotctl kafka reset-offsets "
            f"{group}{only} --to-earliest --yes`, then `spotctl up workers`")


def empty_tail_message(topic: str, held: int, partitions: int) -> str:
    """Why `tail` printed nothing: the topic holds no record, or none where it was asked to start."""
    if held == 0:
        return f"{topic} is empty: no records in its {partitions} partition(s)"
    return (f"no records at the chosen offsets; {topic} holds {held} record(s) "
            "(--from-beginning shows them from the oldest)")
