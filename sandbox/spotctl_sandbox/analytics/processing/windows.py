"""Tumbling and sliding event-time windows per tenant, with a watermark and de-duplication (sans-I/O).

Events land in one-minute *panes*; a window is the merge of the panes it covers, so the 1 min, 5 min
and 1 h tumbling windows and the 5 min / 1 h sliding windows all come from one pass over the stream.

- Watermark W = the slowest active partition's newest event time − `lateness_s` (a partition fetched
  ahead of the others during a catch-up does not make theirs late). A partition without events for
  `idle_s` (wall clock) stops holding it back; when every partition is idle W follows the wall clock
  from the newest event, so a quiet stream still closes its windows. An event with ts ≥ W is counted
  even if out of order; one with ts < W is *late*: not counted, but counted in `late`.
- A pane whose end is ≤ W can receive nothing more, so windows ending there are emitted (final).
- Event ids seen with ts ≥ W are remembered (64-bit hashes): a second copy is a *duplicate*.

All time is passed in (`now`), so tests drive it exactly; the Kafka edge is processing/realtime.py.
"""

from __future__ import annotations

import base64
import hashlib
import math
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spotctl_sandbox.analytics.processing.events import Source, StreamEvent

PANE_S = 60


@dataclass(frozen=True)
class WindowSpec:
    name: str
    size_s: int
    slide_s: int

    @property
    def tumbling(self) -> bool:
        return self.size_s == self.slide_s


DEFAULT_WINDOWS = (
    WindowSpec("1m", 60, 60), WindowSpec("5m", 300, 300), WindowSpec("1h", 3600, 3600),
    WindowSpec("5m-sliding", 300, 60), WindowSpec("1h-sliding", 3600, 300),
)
# The per-tenant series every window reports (docs/analytics.md describes each).
SERIES = ("plays", "active_users", "searches", "signups", "playlists", "errors", "error_rate", "hub_messages",
          "hub_deliveries", "hub_connections", "events", "late", "duplicates")


class Verdict(StrEnum):
    COUNTED = "counted"
    LATE = "late"
    DUPLICATE = "duplicate"


@dataclass
class Pane:
    """What one tenant did in one minute; additive except `users` (a set) and `conns` (max per worker)."""

    counts: Counter[str] = field(default_factory=Counter)
    songs: Counter[str] = field(default_factory=Counter)
    artists: Counter[str] = field(default_factory=Counter)
    hub_types: Counter[str] = field(default_factory=Counter)
    users: set[str] = field(default_factory=set)
    conns: dict[str, int] = field(default_factory=dict)

    def add(self, ev: StreamEvent) -> None:
        counts = self.counts
        counts["events"] += 1
        if ev.error:
            counts["errors"] += 1
        if ev.user_id is not None:
            self.users.add(ev.user_id)
        source = ev.source
        if source is Source.SONG_PLAYED:
            counts["plays"] += 1
            self.songs[ev.song_id or ""] += 1
            if ev.artist_id is not None:
                self.artists[ev.artist_id] += 1
        elif source is Source.SEARCH_PERFORMED:
            counts["searches"] += 1
        elif source is Source.USER_REGISTERED:
            counts["signups"] += 1
        elif source is Source.PLAYLIST_CREATED:
            counts["playlists"] += 1
        elif ev.hub is not None:
            hub = ev.hub
            counts["hub_messages"] += sum(hub.messages.values())
            counts["hub_deliveries"] += hub.deliveries
            counts["errors"] += hub.errors
            self.hub_types.update(hub.messages)
            worker = str(hub.worker)
            self.conns[worker] = max(self.conns.get(worker, 0), hub.connections)

    def merge(self, other: Pane) -> None:
        self.counts.update(other.counts)
        self.songs.update(other.songs)
        self.artists.update(other.artists)
        self.hub_types.update(other.hub_types)
        self.users |= other.users
        for worker, n in other.conns.items():
            self.conns[worker] = max(self.conns.get(worker, 0), n)

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "songs": dict(self.songs), "artists": dict(self.artists),
                "hub_types": dict(self.hub_types), "users": sorted(self.users), "conns": self.conns}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pane:
        return cls(Counter(data["counts"]), Counter(data["songs"]), Counter(data["artists"]),
                   Counter(data["hub_types"]), set(data["users"]), dict(data["conns"]))

    def values(self) -> dict[str, float]:
        c = self.counts
        requests = c["plays"] + c["searches"] + c["playlists"] + c["signups"] + c["hub_messages"]
        return {
            "plays": c["plays"], "active_users": len(self.users), "searches": c["searches"],
            "signups": c["signups"], "playlists": c["playlists"], "errors": c["errors"],
            "error_rate": c["errors"] / requests if requests else 0.0, "hub_messages": c["hub_messages"],
            "hub_deliveries": c["hub_deliveries"], "hub_connections": sum(self.conns.values()),
            "events": c["events"], "late": c["late"], "duplicates": c["duplicates"],
        }


@dataclass(frozen=True)
class WindowResult:
    """One tenant's window: the per-tenant series plus per song, artist and hub frame type."""

    tenant: str
    window: str
    start: float
    end: float
    values: dict[str, float]
    songs: dict[str, int]
    artists: dict[str, int]
    hub_types: dict[str, int]
    final: bool = True


def id_hash(event_id: str) -> int:
    """64 bits of the id: stable across processes (unlike hash()), ~8 bytes each when persisted."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


class Dedup:
    """Ids of counted events still above the watermark, bucketed by second so they expire with it."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.buckets: dict[int, array[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def seen(self, h: int) -> bool:
        return h in self.ids

    def add(self, h: int, ts: float) -> None:
        self.ids.add(h)
        bucket = int(ts)
        ids = self.buckets.get(bucket)
        if ids is None:
            ids = self.buckets[bucket] = array("Q")
        ids.append(h)

    def expire(self, watermark: float) -> None:
        for bucket in [b for b in self.buckets if b + 1 <= watermark]:
            self.ids.difference_update(self.buckets.pop(bucket))

    def to_json(self) -> dict[str, str]:
        return {str(b): base64.b64encode(ids.tobytes()).decode() for b, ids in self.buckets.items()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Dedup:
        dedup = cls()
        for bucket, packed in data.items():
            ids = array("Q")
            ids.frombytes(base64.b64decode(packed))
            dedup.buckets[int(bucket)] = ids
            dedup.ids.update(ids)
        return dedup


class StreamWindows:
    """The processor's state: panes per tenant, the watermark and the de-duplication set."""

    def __init__(self, specs: Iterable[WindowSpec] = DEFAULT_WINDOWS, *, lateness_s: float = 10.0,
                 idle_s: float = 5.0) -> None:
        self.specs = tuple(specs)
        for spec in self.specs:
            if spec.size_s % PANE_S or spec.slide_s % PANE_S or spec.size_s % spec.slide_s:
                raise ValueError(f"window {spec.name}: size and slide must be whole minutes, size a multiple of slide")
        self.max_size = max(s.size_s for s in self.specs)
        self.lateness_s = lateness_s
        self.idle_s = idle_s
        self.panes: dict[tuple[str, int], Pane] = {}
        self.dedup = Dedup()
        self.max_ts: float | None = None
        self.watermark = -math.inf
        self.last_event_at = 0.0       # wall clock of the last counted event
        self.parts: dict[str, list[float]] = {}  # partition -> [newest event time, wall clock of its last event]
        self._slowest: str | None = None
        self.emitted_until = 0         # windows ending at or before this were emitted
        self.dirty: set[tuple[str, int]] = set()
        self.dropped: set[tuple[str, int]] = set()

    # -- the stream ------------------------------------------------------------------------------

    def _pane(self, tenant: str, start: int) -> Pane:
        key = (tenant, start)
        pane = self.panes.get(key)
        if pane is None:
            pane = self.panes[key] = Pane()
        self.dirty.add(key)
        return pane

    def _note(self, tenant: str, what: str) -> None:
        """Late and duplicate events count in the tenant's newest pane: the minute they arrived in."""
        at = self.max_ts or 0.0  # set: a late or duplicate event needs an earlier counted one
        self._pane(tenant, int(at // PANE_S) * PANE_S).counts[what] += 1

    def track(self, partitions: Iterable[str], now: float) -> None:
        """Partitions just assigned: each holds the watermark until it has events or goes idle."""
        for key in partitions:
            self.parts.setdefault(key, [-math.inf, now])
        self._recompute(now)

    def _recompute(self, now: float) -> None:
        slowest, low = None, math.inf
        for key, (newest, seen) in self.parts.items():
            if now - seen <= self.idle_s and newest < low:
                slowest, low = key, newest
        self._slowest = slowest
        if slowest is None:  # every partition idle: event time goes on with the wall clock
            if self.max_ts is None:
                return
            candidate = self.max_ts + (now - self.last_event_at - self.idle_s) - self.lateness_s
        elif low == -math.inf:
            return  # an assigned partition has not spoken yet
        else:
            candidate = low - self.lateness_s
        if candidate > self.watermark:
            self.watermark = candidate

    def ingest(self, ev: StreamEvent, now: float, partition: str = "") -> Verdict:
        h = id_hash(ev.event_id)
        if h in self.dedup.ids:
            self._note(ev.tenant, "duplicates")
            return Verdict.DUPLICATE
        if ev.ts < self.watermark:
            self._note(ev.tenant, "late")
            return Verdict.LATE
        self._pane(ev.tenant, int(ev.ts // PANE_S) * PANE_S).add(ev)
        self.dedup.add(h, ev.ts)
        if self.max_ts is None or ev.ts > self.max_ts:
            self.max_ts = ev.ts
        self.last_event_at = now
        part = self.parts.get(partition)
        if part is None:
            self.parts[partition] = [ev.ts, now]
            self._recompute(now)
        else:
            part[1] = now
            if ev.ts > part[0]:
                part[0] = ev.ts
                if self._slowest is None or self._slowest == partition:
                    self._recompute(now)
        return Verdict.COUNTED

    def advance(self, now: float) -> list[WindowResult]:
        """Move the watermark (idle partitions let go of it) and emit every window it closed."""
        self._recompute(now)
        self.dedup.expire(self.watermark)
        if self.watermark == -math.inf:
            return []
        closed = int(self.watermark // PANE_S) * PANE_S
        results = [r for boundary in self._boundaries(closed) for r in self._emit(boundary)]
        self.emitted_until = max(self.emitted_until, closed)
        horizon = closed - self.max_size
        for key in [k for k in self.panes if k[1] + PANE_S <= horizon]:
            del self.panes[key]
            self.dirty.discard(key)
            self.dropped.add(key)
        return results

    def _boundaries(self, closed: int) -> list[int]:
        """Window ends in (emitted_until, closed] that some pane still feeds (gaps are skipped)."""
        ends: set[int] = set()
        for _, start in self.panes:
            first = max(start + PANE_S, self.emitted_until + PANE_S)
            ends.update(range(first, min(start + self.max_size, closed) + 1, PANE_S))
        return sorted(ends)

    def _emit(self, end: int) -> list[WindowResult]:
        tenants = sorted({t for t, start in self.panes if end - self.max_size <= start < end})
        return [self._window(tenant, spec, end) for tenant in tenants for spec in self.specs
                if end % spec.slide_s == 0]

    def _window(self, tenant: str, spec: WindowSpec, end: int, final: bool = True) -> WindowResult:
        merged = Pane()
        for start in range(end - spec.size_s, end, PANE_S):
            pane = self.panes.get((tenant, start))
            if pane is not None:
                merged.merge(pane)
        return WindowResult(tenant, spec.name, end - spec.size_s, end, merged.values(), dict(merged.songs),
                            dict(merged.artists), dict(merged.hub_types), final)

    def open_windows(self) -> list[WindowResult]:
        """The minute panes not closed yet (provisional 1 min values for live views)."""
        return [self._window(tenant, WindowSpec("1m", PANE_S, PANE_S), start + PANE_S, final=False)
                for tenant, start in sorted(self.panes) if start + PANE_S > self.emitted_until]

    # -- checkpoints -----------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return {"max_ts": self.max_ts, "watermark": None if self.watermark == -math.inf else self.watermark,
                "emitted_until": self.emitted_until, "dedup": self.dedup.to_json()}

    def take_changes(self) -> tuple[dict[tuple[str, int], dict[str, Any]], set[tuple[str, int]]]:
        """Panes changed and panes dropped since the last call: what a checkpoint must write."""
        changed = {key: self.panes[key].to_json() for key in self.dirty if key in self.panes}
        dropped = self.dropped
        self.dirty, self.dropped = set(), set()
        return changed, dropped

    def restore(self, meta: dict[str, Any], panes: dict[tuple[str, int], dict[str, Any]], now: float) -> None:
        self.max_ts = meta.get("max_ts")
        watermark = meta.get("watermark")
        self.watermark = -math.inf if watermark is None else float(watermark)
        self.emitted_until = int(meta.get("emitted_until") or 0)
        self.dedup = Dedup.from_json(meta.get("dedup") or {})
        self.panes = {key: Pane.from_json(data) for key, data in panes.items()}
        self.dirty, self.dropped = set(), set()
        self.last_event_at = now
        self.parts, self._slowest = {}, None
