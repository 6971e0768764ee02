"""Redis fan-out between workers: publish (stream + pub/sub in one script) and the subscriber side.

Durable topics append to a capped stream and publish `"<stream id> <body json>"` atomically, so a
reconnecting client can replay everything after its last id; ephemeral topics only publish.
"""

from __future__ import annotations

import json
from typing import Any

from . import keys
from .protocol import envelope

STREAM_MAXLEN = 1000
STREAM_TTL_S = 24 * 3600

_PUBLISH_DURABLE = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1])
return id
"""


def text_of(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def publish(redis: Any, ns: str, topic: str, kind: str, content: Any, *, durable: bool = False,
                  priority: int | None = None, frame_id: str | None = None, origin: str | None = None) -> str:
    """Send one message to every subscriber of `topic` on every worker; returns its id."""
    body_json = json.dumps(envelope.body(kind, content, topic=topic, priority=priority, origin=origin),
                           separators=(",", ":"))
    return await publish_body(redis, ns, topic, body_json, durable=durable, frame_id=frame_id)


async def publish_body(redis: Any, ns: str, topic: str, body_json: str, *, durable: bool = False,
                       frame_id: str | None = None) -> str:
    if durable:
        result = await redis.eval(_PUBLISH_DURABLE, 2, keys.stream(ns, topic), keys.channel(ns, topic),
                                  body_json, STREAM_MAXLEN, STREAM_TTL_S)
        return text_of(result)
    fid = frame_id or envelope.ephemeral_id()
    await redis.publish(keys.channel(ns, topic), f"{fid} {body_json}")
    return fid


async def replay(redis: Any, ns: str, topic: str, after_id: str, limit: int = 500) -> list[str]:
    """Frames of a durable topic published after `after_id` (exclusive), oldest first."""
    entries = await redis.xrange(keys.stream(ns, topic), min=f"({after_id}", max="+", count=limit)
    out = []
    for entry_id, fields in entries:
        raw = fields.get(b"b", fields.get("b"))
        out.append(envelope.with_id(text_of(entry_id), text_of(raw)))
    return out


def split(message: bytes | str) -> tuple[str, str]:
    """A published pub/sub payload -> (frame id, body json)."""
    text = text_of(message)
    frame_id, _, body_json = text.partition(" ")
    return frame_id, body_json
