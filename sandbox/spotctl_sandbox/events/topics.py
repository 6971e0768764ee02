"""Kafka topic names and the JSON shape of their values: a dict with `ts` (epoch seconds) and an
`event_id` (consumers de-duplicate redeliveries on it)."""

from __future__ import annotations

import json
import time
import uuid
from enum import StrEnum
from typing import Any


class Topic(StrEnum):
    SONG_PLAYED = "song_played"              # {user_id, song_id, ts}
    PLAYLIST_CREATED = "playlist_created"    # {user_id, playlist_id, name, song_count, ts}
    SEARCH_PERFORMED = "search_performed"    # {user_id | null, query, results, cached, ts}
    USER_REGISTERED = "user_registered"      # {user_id, email, ts}


ALL_TOPICS: tuple[str, ...] = tuple(t.value for t in Topic)


def event_value(payload: dict[str, Any], ts: float | None = None) -> bytes:
    """Serialise an event; `ts` (now) and `event_id` are added unless the payload carries them."""
    body = {**payload}
    body.setdefault("ts", time.time() if ts is None else ts)
    body.setdefault("event_id", uuid.uuid4().hex)
    return json.dumps(body, separators=(",", ":"), default=str).encode()
