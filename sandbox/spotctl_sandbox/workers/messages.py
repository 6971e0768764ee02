"""Parse what arrives on queues and topics into frozen dataclasses (pure, no I/O).

Every parser raises MalformedMessage with a readable reason instead of a KeyError deep in a handler,
so the consumer can dead-letter the message (RabbitMQ) or fail the job without retries (BullMQ).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from spotctl_sandbox.common.jsonsafe import find_unsafe
from spotctl_sandbox.workers.dlq import MalformedMessage


def json_object(raw: bytes | str | dict[str, Any] | Any) -> dict[str, Any]:
    """A payload as a dict; NaN, Infinity, NUL and lone surrogates are refused naming the field
    (BullMQ hands over data it already decoded, so a dict is checked the same way)."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(raw).__name__}")
    unsafe = find_unsafe(raw)
    if unsafe is not None:
        raise MalformedMessage(f"'{unsafe.field()}' {unsafe.reason}")
    return raw


def _id(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise MalformedMessage(f"'{key}' is missing or not an id")
    return str(value).strip()


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise MalformedMessage(f"'{key}' is missing or not text")
    return value


def epoch_field(data: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MalformedMessage(f"'{key}' must be epoch seconds")
        return float(value)
    return None


@dataclass(frozen=True)
class PlayJob:
    """BullMQ `update_recently_played`: one play to record for the user."""

    user_id: str
    song_id: str
    played_at: float

    @classmethod
    def parse(cls, raw: Any) -> PlayJob:
        data = json_object(raw)
        played_at = epoch_field(data, "played_at", "ts")
        return cls(_id(data, "user_id"), _id(data, "song_id"), played_at if played_at else time.time())


@dataclass(frozen=True)
class Release:
    """A release on the `notifications` fanout: {"type": "release", "song_id", "artist_id", "title", "ts"}."""

    song_id: str
    artist_id: str
    title: str | None
    artist: str | None

    @classmethod
    def parse(cls, raw: bytes) -> Release:
        data = json_object(raw)
        kind = data.get("type", "release")
        if kind not in ("release", "song_released"):
            raise MalformedMessage(f"unknown notification type {kind!r}")
        title, artist = data.get("title"), data.get("artist")
        return cls(_id(data, "song_id"), _id(data, "artist_id"),
                   title if isinstance(title, str) else None, artist if isinstance(artist, str) else None)


@dataclass(frozen=True)
class RecommendationRequest:
    user_id: str
    limit: int

    @classmethod
    def parse(cls, raw: bytes, routing_key: str) -> RecommendationRequest:
        data = json_object(raw) if raw.strip() else {}
        user_id = data.get("user_id") or routing_key.removeprefix("user.")
        if not routing_key.startswith("user.") and "user_id" not in data:
            raise MalformedMessage(f"routing key {routing_key!r} is not user.<id> and no user_id given")
        limit = data.get("limit", 10)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise MalformedMessage("'limit' must be an integer in 1..100")
        return cls(_id({"user_id": user_id}, "user_id"), limit)


@dataclass(frozen=True)
class PushJob:
    user_id: str
    title: str
    body: str
    kind: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, raw: Any) -> PushJob:
        data = json_object(raw)
        extra = data.get("data") or {}
        if not isinstance(extra, dict):
            raise MalformedMessage("'data' must be an object")
        return cls(_id(data, "user_id"), _text(data, "title"), _text(data, "body", ""),
                   _text(data, "kind", "generic"), extra)


@dataclass(frozen=True)
class EmailJob:
    to: str
    subject: str
    body: str
    html: str | None
    attachment: str | None  # a file path to attach (the report)

    @classmethod
    def parse(cls, raw: Any) -> EmailJob:
        data = json_object(raw)
        to = _text(data, "to")
        if "@" not in to:
            raise MalformedMessage(f"'to' is not an e-mail address: {to!r}")
        html, attachment = data.get("html"), data.get("attachment")
        return cls(to, _text(data, "subject"), _text(data, "body", ""),
                   html if isinstance(html, str) else None,
                   attachment if isinstance(attachment, str) else None)


@dataclass(frozen=True)
class PlayEvent:
    """A `song_played` Kafka event: {user_id, song_id, ts}."""

    user_id: str
    song_id: str
    ts: float

    @classmethod
    def parse(cls, raw: bytes) -> PlayEvent:
        data = json_object(raw)
        ts = epoch_field(data, "ts")
        if ts is None:
            raise MalformedMessage("'ts' is missing")
        return cls(_id(data, "user_id"), _id(data, "song_id"), ts)
