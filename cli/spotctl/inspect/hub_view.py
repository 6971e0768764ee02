"""What `spotctl hub` sends and shows: chat/room targets, frame lines, per-worker stats (no I/O here)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spotctl.errors import UsageError
from spotctl.inspect.values import maybe_json

ROOM_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")  # the hub's ID schema


@dataclass(frozen=True)
class Target:
    """Where a message goes: a room (`lobby`, `room:lobby`) or a chat channel (`chat:12`)."""

    room: str | None = None
    channel_id: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text.startswith("chat:"):
            try:
                return cls(channel_id=int(text[5:]))
            except ValueError:
                raise UsageError(f"{text!r}: a chat channel is chat:<number>, e.g. chat:12") from None
        name = text[5:] if text.startswith("room:") else text
        if not ROOM_NAME.match(name):
            raise UsageError(f"{text!r} is not a room name (letters, digits and _.:@- only)")
        return cls(room=name)

    @property
    def topic(self) -> str:
        return f"room:{self.room}" if self.room is not None else f"chat:{self.channel_id}"

    def join(self) -> tuple[str, dict[str, Any]]:
        if self.room is not None:
            return "join", {"room": self.room}
        return "channel_join", {"channel_id": self.channel_id}

    def leave(self) -> tuple[str, dict[str, Any]]:
        if self.room is not None:
            return "leave", {"room": self.room}
        return "channel_leave", {"channel_id": self.channel_id}

    def message(self, text: str, priority: str | None = None) -> tuple[str, dict[str, Any]]:
        """Rooms carry any JSON `data` (text that parses as JSON is sent as JSON); chats carry text."""
        if self.room is not None:
            content: dict[str, Any] = {"room": self.room, "data": maybe_json(text)}
            if priority:
                content["priority"] = priority
            return "room_message", content
        return "chat_message", {"channel_id": self.channel_id, "text": text}


def frame_line(frame: Mapping[str, Any]) -> str:
    """One frame as a terminal line: time, type, topic, content."""
    when = str(frame.get("timestamp", ""))[11:19]
    topic = f" [{frame['topic']}]" if frame.get("topic") else ""
    reply = f" (reply to {frame['reply_to']})" if frame.get("reply_to") else ""
    content = json.dumps(frame.get("content", {}), ensure_ascii=False, separators=(",", ":"))
    return f"{when} {frame.get('type')}{topic}{reply} {content}"


def parse_command(line: str) -> tuple[str, str]:
    """`/join lobby` -> ("join", "lobby"); plain text -> ("say", text)."""
    if not line.startswith("/"):
        return "say", line
    word, _, rest = line[1:].partition(" ")
    return word.lower(), rest.strip()


def worker_stats(metrics_text: str) -> dict[str, dict[str, float]]:
    """Per worker: connections, subscriptions and frame totals, from the hub's Prometheus text."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"hub_connections": "connections", "hub_subscriptions": "subscriptions",
              "hub_messages_in_total": "messages_in", "hub_messages_out_total": "messages_out"}
    stats: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            field = wanted.get(sample.name)
            worker = sample.labels.get("worker")
            if field is None or worker is None:
                continue
            row = stats.setdefault(worker, dict.fromkeys(wanted.values(), 0.0))
            row[field] += sample.value
    return dict(sorted(stats.items()))


def with_rates(before: Mapping[str, Mapping[str, float]], after: Mapping[str, dict[str, float]],
               seconds: float) -> list[dict[str, Any]]:
    """Rows per worker with messages/s in and out over the sampling interval."""
    rows = []
    for worker, now in after.items():
        then = before.get(worker, {})
        rows.append({"worker": worker, "connections": int(now["connections"]),
                     "subscriptions": int(now["subscriptions"]),
                     "messages_in": int(now["messages_in"]), "messages_out": int(now["messages_out"]),
                     "in_per_s": round((now["messages_in"] - then.get("messages_in", 0)) / seconds, 1)
                     if seconds else None,
                     "out_per_s": round((now["messages_out"] - then.get("messages_out", 0)) / seconds, 1)
                     if seconds else None})
    return rows
