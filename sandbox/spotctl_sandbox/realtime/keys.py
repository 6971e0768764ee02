"""Redis key and pub/sub channel names, all scoped by namespace (tenant) so tenants never meet.

Each topic (see `topics.py`) has a pub/sub channel and, when durable, a stream that backs
resume-from-last-id. The hub, the workers, the CLI and the load tests name keys only through here.

Keys used together carry the same Redis Cluster hash tag (the part in braces), so on a cluster they
live on one shard: a topic's channel and stream (`{room:lobby}`: the durable publish is one script,
and a sharded publish crosses only that shard), a listening session's state and queue (`{<id>}`).
A single Redis ignores the braces.
"""

from __future__ import annotations

import re

from .topics import Topic

NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DEFAULT_NAMESPACE = "default"
CONTROL_CHANNEL = "hub:control"  # every worker subscribes; carries nothing tenant-specific
STREAM_ID_RE = re.compile(r"^\d+-\d+$")


def check_namespace(ns: str) -> str:
    if not NAMESPACE_RE.match(ns):
        raise ValueError("namespace must be 1-32 characters of a-z, 0-9, '_' or '-', starting alphanumeric")
    return ns


def channel(ns: str, topic: Topic) -> str:
    return f"hub:{ns}:t:{{{topic}}}"


def channel_pattern(ns: str) -> str:
    """A PSUBSCRIBE / PUBSUB CHANNELS pattern matching every topic channel of a namespace."""
    return f"hub:{ns}:t:*"


def stream(ns: str, topic: Topic) -> str:
    return f"hub:{ns}:s:{{{topic}}}"


def namespace_of(channel_name: str) -> str:
    """The namespace of a channel() name, cheaply (the fan-out counts deliveries per tenant with it)."""
    return channel_name.split(":", 2)[1]


def parse_channel(channel_name: str) -> tuple[str, Topic]:
    """Inverse of channel(): (namespace, topic); ValueError for a name channel() did not make."""
    prefix, ns, t, topic = (channel_name.split(":", 3) + ["", "", ""])[:4]
    if prefix != "hub" or t != "t" or not (topic.startswith("{") and topic.endswith("}")):
        raise ValueError(f"{channel_name!r} is not a hub topic channel")
    return ns, Topic.parse(topic[1:-1])


def conns(ns: str, user_id: str) -> str:
    return f"hub:{ns}:conns:{user_id}"


def away(ns: str, user_id: str) -> str:
    return f"hub:{ns}:away:{user_id}"


def prefs(ns: str, user_id: str) -> str:
    return f"hub:{ns}:prefs:{user_id}"


def notification(ns: str, notification_id: str) -> str:
    return f"hub:{ns}:notif:{notification_id}"


def pending(ns: str, user_id: str) -> str:
    return f"hub:{ns}:notif-pending:{user_id}"


def user_rate(ns: str, user_id: str) -> str:
    return f"hub:{ns}:rate:{user_id}"


def listening(ns: str, session_id: str) -> str:
    return f"hub:{ns}:ls:{{{session_id}}}"


def listening_queue(ns: str, session_id: str) -> str:
    return f"hub:{ns}:ls:{{{session_id}}}:queue"


def editors(ns: str, playlist_id: str) -> str:
    return f"hub:{ns}:pl-editors:{playlist_id}"


def is_stream_id(frame_id: str) -> bool:
    """`<ms>-<seq>` as Redis makes them (each part a 64-bit unsigned integer)."""
    return bool(STREAM_ID_RE.match(frame_id)) and all(len(p) <= 20 and int(p) < 2**64 for p in frame_id.split("-"))
