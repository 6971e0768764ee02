"""Redis key and pub/sub channel names, all scoped by namespace (tenant) so tenants never meet.

Topics are strings such as `user:42`, `room:lobby`, `chat:7`, `ls:<session>`, `pl:<playlist>`; each
has a pub/sub channel and, when durable, a stream that backs resume-from-last-id.
"""

from __future__ import annotations

import re

NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DEFAULT_NAMESPACE = "default"
CONTROL_CHANNEL = "hub:control"  # every worker subscribes; carries nothing tenant-specific
AUDIT_STREAM = "hub:audit"
STREAM_ID_RE = re.compile(r"^\d+-\d+$")


def check_namespace(ns: str) -> str:
    if not NAMESPACE_RE.match(ns):
        raise ValueError("namespace must be 1-32 characters of a-z, 0-9, '_' or '-', starting alphanumeric")
    return ns


def channel(ns: str, topic: str) -> str:
    return f"hub:{ns}:t:{topic}"


def stream(ns: str, topic: str) -> str:
    return f"hub:{ns}:s:{topic}"


def topic_of(channel_name: str) -> tuple[str, str]:
    """Inverse of channel(): (namespace, topic)."""
    _, ns, _, topic = channel_name.split(":", 3)
    return ns, topic


def user_topic(user_id: str) -> str:
    return f"user:{user_id}"


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
    return f"hub:{ns}:ls:{session_id}"


def listening_queue(ns: str, session_id: str) -> str:
    return f"hub:{ns}:ls:{session_id}:queue"


def editors(ns: str, playlist_id: str) -> str:
    return f"hub:{ns}:pl-editors:{playlist_id}"


def is_stream_id(frame_id: str) -> bool:
    return bool(STREAM_ID_RE.match(frame_id))
