"""The Redis fan-out bus between hub workers (and the workers that notify users): its one format.

A published frame travels as the pub/sub payload `"<frame id> <body json>"` on the topic's channel
(`protocol.bus_payload`).
Durable topics also append the body to a capped stream in the same Lua script (the stream id is the
frame id), so a reconnecting client can replay everything after its last id; ephemeral frames get
an `e:` id and are only published.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from . import keys, protocol
from .topics import Topic

STREAM_MAXLEN = 1000
STREAM_TTL_S = 24 * 3600

_PUBLISH_DURABLE = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1])
return id
"""


def text_of(value: object) -> str:
    """A Redis reply as text (the hub's clients do not decode responses: pub/sub payloads stay bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


async def publish(redis: aioredis.Redis, ns: str, topic: Topic, kind: str, content: object, *,
                  durable: bool = False, priority: int | None = None, frame_id: str | None = None,
                  origin: str | None = None) -> str:
    """Send one frame to every subscriber of `topic` on every worker; returns its id."""
    body_json = protocol.dumps(protocol.body(kind, content, topic=str(topic), priority=priority, origin=origin))
    return await publish_body(redis, ns, topic, body_json, durable=durable, frame_id=frame_id)


async def publish_body(redis: aioredis.Redis, ns: str, topic: Topic, body_json: str, *, durable: bool = False,
                       frame_id: str | None = None) -> str:
    if durable:
        result = await redis.eval(_PUBLISH_DURABLE, 2, keys.stream(ns, topic), keys.channel(ns, topic),
                                  body_json, str(STREAM_MAXLEN), str(STREAM_TTL_S))
        return text_of(result)
    fid = frame_id or protocol.ephemeral_id()
    await redis.publish(keys.channel(ns, topic), protocol.bus_payload(fid, body_json))
    return fid


async def replay(redis: aioredis.Redis, ns: str, topic: Topic, after_id: str, limit: int = 500) -> list[str]:
    """Frames of a durable topic published after `after_id` (exclusive), oldest first, ready to send."""
    entries = await redis.xrange(keys.stream(ns, topic), min=f"({after_id}", max="+", count=limit) or []
    out = []
    for entry_id, fields in entries:
        raw = (fields or {}).get(b"b", (fields or {}).get("b"))
        if raw is not None:
            out.append(protocol.with_id(text_of(entry_id), text_of(raw)))
    return out
