"""What `spotctl hub` sends and shows: chat/room targets, frame lines, per-worker stats (no I/O here)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from spotctl.errors import UsageError
from spotctl.inspect.values import maybe_json
from spotctl_sandbox.realtime.topics import Kind, Topic

CHANNEL_NAME_MAX = 100  # the hub's channel_create schema


@dataclass(frozen=True)
class Target:
    """Where a message goes: a room (`lobby`, `room:lobby`), a chat channel by id (`chat:12`) or by
    name (`#general`: the hub finds it, or makes it, when it is joined by name).

    Topics are parsed by the hub's own topic type, so the CLI accepts exactly what the hub does.
    """

    room: str | None = None
    channel_id: int | None = None
    channel_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        if text.startswith("#"):
            name = text[1:].strip()
            if not 0 < len(name) <= CHANNEL_NAME_MAX:
                raise UsageError(f"{text!r}: a channel name is 1 to {CHANNEL_NAME_MAX} characters after '#'")
            return cls(channel_name=name)
        try:
            topic = Topic.parse(text) if text.startswith(("chat:", "room:")) else Topic.room(text).check()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if topic.kind is Kind.CHAT:
            return cls(channel_id=topic.chat_id)
        return cls(room=topic.key)

    @property
    def topic(self) -> str:
        if self.room is not None:
            return str(Topic.room(self.room))
        return str(Topic.chat(self.channel_id)) if self.channel_id is not None else f"#{self.channel_name}"

    @property
    def label(self) -> str:
        """How people call it: `#general`, `lobby`, `chat:12`."""
        if self.channel_name is not None:
            return f"#{self.channel_name}"
        return self.room if self.room is not None else self.topic

    @property
    def unresolved(self) -> bool:
        """A channel known only by its name: joined by name, it gets its id from the hub's answer."""
        return self.room is None and self.channel_id is None

    def resolved(self, channel_id: int) -> Target:
        return replace(self, channel_id=channel_id)

    def named(self, name: str) -> Target:
        return replace(self, channel_name=name)

    def join(self) -> tuple[str, dict[str, Any]]:
        if self.room is not None:
            return "join", {"room": self.room}
        if self.channel_id is None:
            return "channel_join", {"name": self.channel_name}
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


def clock(iso: Any) -> str:
    """`2026-11-25T18:56:51.048Z` (UTC) as local `18:56:51`; whatever else as it is."""
    try:
        when = dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)[11:19]
    return when.astimezone().strftime("%H:%M:%S")


def chat_line(frame: Mapping[str, Any], names: Mapping[int, str]) -> str:
    """A frame as a person reads it: `[18:56:51] #general alice: hi`, `bob is typing…`; frames without
    a chat form fall back to `frame_line`. `names` maps channel ids to the names they were joined by."""
    kind, c = frame.get("type"), frame.get("content") or {}
    where = _where(c, names)
    when = f"[{clock(c.get('created_at') or frame.get('timestamp', ''))}]"
    if kind == "chat_message":
        return f"{when} {where}{c.get('name') or c.get('user_id')}: {c.get('text')}"
    if kind == "room_message":
        data = c.get("data")
        return f"{when} {c.get('room')} {c.get('from')}: {data if isinstance(data, str) else json.dumps(data)}"
    if kind == "typing":
        return f"  {where}{c.get('user_id')} {'is typing…' if c.get('typing') else 'stopped typing'}"
    if kind == "presence":
        return f"  {where}{c.get('user_id')} is {c.get('status')}"
    if kind == "read_receipt":
        return f"  {where}{c.get('user_id')} read up to message {c.get('message_id')}"
    if kind == "channel_invited":
        channel = c.get("channel") or {}
        return f"  {c.get('by')} invited you to #{channel.get('name')} (chat:{channel.get('id')})"
    if kind == "notification":
        return f"{when} ! {c.get('priority')} {c.get('title')} — {c.get('content')}"
    if kind == "notification_batch":
        return "\n".join(chat_line({"type": "notification", "timestamp": frame.get("timestamp"), "content": n},
                                    names) for n in c.get("notifications", []))
    if kind == "error":
        return f"  error: {c.get('code')}: {c.get('message')}"
    return frame_line(frame)


def _where(content: Mapping[str, Any], names: Mapping[int, str]) -> str:
    channel = content.get("channel_id")
    if channel is None:
        return ""
    name = names.get(channel) or content.get("channel_name")
    return f"#{name} " if name else f"chat:{channel} "


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


def delivery_buckets(metrics_text: str) -> dict[float, float]:
    """The hub's delivery histogram summed over workers: upper bound (s) -> cumulative count."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "hub_delivery_latency_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return dict(sorted(buckets.items()))


def quantile_ms(before: Mapping[float, float], after: Mapping[float, float], q: float) -> float | None:
    """The q-quantile (ms) of the deliveries between two histogram readings, as Prometheus'
    histogram_quantile estimates it (linear within the bucket); None when nothing was delivered."""
    counts = [(bound, after[bound] - before.get(bound, 0.0)) for bound in sorted(after)]
    total = counts[-1][1] if counts else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= rank:
            if bound == float("inf"):
                return round(lower * 1000, 1)
            share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
            return round((lower + (bound - lower) * share) * 1000, 1)
        lower, below = bound, cumulative
    return round(lower * 1000, 1)


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
