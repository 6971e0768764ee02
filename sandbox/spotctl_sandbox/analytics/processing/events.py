"""Parse a Kafka record of the analytics topics into a StreamEvent, or say why it is malformed (pure).

The real-time processor sends what `parse` rejects to the dead-letter topic with the reason, so a
bad producer is visible instead of silently skewing a window. Contracts (docs/analytics.md):
every event has `event_id`, `ts` and `tenant` ("default" when missing); `ts` is epoch seconds on the
API's topics and epoch milliseconds on `hub_activity` — both are accepted everywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class Source(StrEnum):
    SONG_PLAYED = "song_played"
    SEARCH_PERFORMED = "search_performed"
    PLAYLIST_CREATED = "playlist_created"
    USER_REGISTERED = "user_registered"
    HUB_ACTIVITY = "hub_activity"


TOPICS: tuple[str, ...] = tuple(s.value for s in Source)
DEAD_LETTER_TOPIC = "analytics_dead_letters"
DEFAULT_TENANT = "default"
TENANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MS_THRESHOLD = 1e11  # an epoch in seconds passes 1e11 in the year 5138; above it the value is milliseconds


class Malformed(ValueError):
    """The record can never be counted; `reason` goes into the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HubActivity:
    worker: int
    connections: int
    messages: dict[str, int]
    deliveries: int
    errors: int


@dataclass(frozen=True, slots=True)
class StreamEvent:
    source: Source
    event_id: str
    tenant: str
    ts: float                      # epoch seconds
    user_id: str | None = None
    song_id: str | None = None
    artist_id: str | None = None
    error: bool = False            # the event reports a failure (counts in `errors`)
    hub: HubActivity | None = field(default=None)


def _id(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = data.get(key)
    kind = type(value)
    if kind is str and value and not value[0].isspace() and not value[-1].isspace():
        return value  # the common case, without the checks below
    if kind is int:
        return str(value)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise Malformed(f"'{key}' is missing or not an id")
    return str(value).strip()


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Malformed(f"'{key}' must be a non-negative integer")
    return value


def epoch_seconds(value: Any) -> float:
    if type(value) is float and 0 < value <= _MS_THRESHOLD:
        return float(value)  # the common case: epoch seconds as a float
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed("'ts' must be an epoch number (seconds or milliseconds)")
    ts = float(value)
    if ts != ts or ts <= 0:  # NaN or not positive
        raise Malformed("'ts' must be a positive epoch number")
    return ts / 1000.0 if ts > _MS_THRESHOLD else ts


def _hub(data: dict[str, Any]) -> HubActivity:
    worker = data.get("worker", 0)
    if isinstance(worker, bool) or not isinstance(worker, int):
        raise Malformed("'worker' must be an integer")
    messages = data.get("messages") or {}
    if not isinstance(messages, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in messages.items()):
        raise Malformed("'messages' must map frame types to non-negative counts")
    return HubActivity(worker, _count(data, "connections"), messages, _count(data, "deliveries"),
                       _count(data, "errors"))


def content_id(topic: str, value: bytes) -> str:
    """The id of an event its producer sent without one: a hash of its bytes (like the workers')."""
    return "sha1:" + hashlib.sha1(topic.encode() + b"\0" + value).hexdigest()


def parse(topic: str, value: bytes | None, record_ts_ms: int | None = None,
          source: Source | None = None) -> StreamEvent:
    """One record -> StreamEvent; raises Malformed with a readable reason. `source` overrides the
    topic's name (tests and benchmarks read prefixed copies of the topics)."""
    if source is None:
        try:
            source = Source(topic)
        except ValueError:
            raise Malformed(f"topic {topic!r} is not one the analytics processor reads") from None
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed(f"expected a JSON object, got {type(data).__name__}")
    tenant = data.get("tenant")
    if tenant is None:
        tenant = DEFAULT_TENANT
    elif not isinstance(tenant, str) or not TENANT_RE.match(tenant):
        raise Malformed("'tenant' must be 1-64 letters, digits, '_', '.' or '-'")
    raw_ts = data.get("ts")
    if raw_ts is None:
        if record_ts_ms is None:
            raise Malformed("'ts' is missing")
        raw_ts = record_ts_ms
    ts = epoch_seconds(raw_ts)
    given = data.get("event_id")
    if given is not None and (isinstance(given, bool) or not isinstance(given, str | int) or not str(given)):
        raise Malformed("'event_id' must be a non-empty string")
    event_id = str(given) if given is not None else content_id(topic, value or b"")
    error = bool(data.get("error")) or data.get("status") == "error"
    if source is Source.HUB_ACTIVITY:
        return StreamEvent(source, event_id, tenant, ts, hub=_hub(data))
    if source is Source.SONG_PLAYED:
        return StreamEvent(source, event_id, tenant, ts, user_id=_id(data, "user_id", required=True),
                           song_id=_id(data, "song_id", required=True),
                           artist_id=_id(data, "artist_id", required=False), error=error)
    return StreamEvent(source, event_id, tenant, ts,
                       user_id=_id(data, "user_id", required=source is not Source.SEARCH_PERFORMED),
                       error=error)
