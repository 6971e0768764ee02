"""The daily report's numbers, aggregated from one UTC day of Kafka events (pure, no I/O).

The reader hands in every event it fetched; events outside the day or of unknown topics are counted
as skipped rather than trusted, since reading "by timestamp" from Kafka is only approximate at the
edges of a partition.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spotctl_sandbox.events.topics import ALL_TOPICS, Topic

TOPICS = ALL_TOPICS  # song_played, playlist_created, search_performed, user_registered


@dataclass(frozen=True)
class Event:
    topic: str
    value: Mapping[str, Any]


@dataclass(frozen=True)
class DailyReport:
    day: dt.date
    plays: int
    listeners: int
    top_songs: tuple[tuple[str, int], ...]  # (song id, plays), most played first
    playlists_created: int
    searches: int
    top_queries: tuple[tuple[str, int], ...]
    new_users: int
    plays_by_hour: tuple[int, ...]  # 24 buckets, UTC
    skipped: int  # events outside the day, duplicates or without a usable timestamp

    @property
    def busiest_hour(self) -> int | None:
        peak = max(self.plays_by_hour)
        return self.plays_by_hour.index(peak) if peak else None


def day_bounds(day: dt.date) -> tuple[float, float]:
    """The day as [start, end) epoch seconds, UTC."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start.timestamp(), (start + dt.timedelta(days=1)).timestamp()


def _timestamp(value: Mapping[str, Any]) -> float | None:
    ts = value.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    return float(ts)


def aggregate(day: dt.date, events: Iterable[Event], top: int = 10) -> DailyReport:
    """Count plays, listeners, top songs and queries, playlists and sign-ups for `day`.

    Events carrying an `event_id` are counted once even when the reader saw them twice.
    """
    start, end = day_bounds(day)
    songs: Counter[str] = Counter()
    queries: Counter[str] = Counter()
    listeners: set[str] = set()
    counts: Counter[str] = Counter()
    by_hour = [0] * 24
    seen: set[str] = set()
    skipped = 0
    for event in events:
        ts = _timestamp(event.value)
        raw_id = event.value.get("event_id")
        event_id = None if raw_id is None else str(raw_id)
        if ts is None or not start <= ts < end or event.topic not in TOPICS or event_id in seen:
            skipped += 1
            continue
        if event_id is not None:
            seen.add(event_id)
        counts[event.topic] += 1
        if event.topic == Topic.SONG_PLAYED:
            songs[str(event.value.get("song_id"))] += 1
            listeners.add(str(event.value.get("user_id")))
            by_hour[int((ts - start) // 3600)] += 1
        elif event.topic == Topic.SEARCH_PERFORMED:
            query = str(event.value.get("query", "")).strip().lower()
            if query:
                queries[query] += 1

    def ranked(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top])

    return DailyReport(
        day=day,
        plays=counts[Topic.SONG_PLAYED],
        listeners=len(listeners),
        top_songs=ranked(songs),
        playlists_created=counts[Topic.PLAYLIST_CREATED],
        searches=counts[Topic.SEARCH_PERFORMED],
        top_queries=ranked(queries),
        new_users=counts[Topic.USER_REGISTERED],
        plays_by_hour=tuple(by_hour),
        skipped=skipped,
    )
