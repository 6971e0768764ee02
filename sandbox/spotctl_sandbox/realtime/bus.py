"""The Redis fan-out bus between hub workers (and the workers that notify users): its one format.

A published frame travels as the pub/sub payload `"<frame id> <body json>"` on the topic's channel
(`protocol.bus_payload`).
Durable topics also append the body to a capped stream in the same Lua script (the stream id is the
frame id), so a reconnecting client can replay everything after its last id; ephemeral frames get
an `e:` id and are only published.

On a Redis Cluster (`redis+cluster://`, common/redisconn.py) the same happens with sharded pub/sub:
SPUBLISH, and the hub's workers SSUBSCRIBE, so a frame crosses only the shard that owns its topic's
slot (classic PUBLISH is broadcast to every node over the cluster bus). The channel and the stream
share a hash tag (keys.py), so the durable script runs on that one shard too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from ..common.leanredis import LeanRedis
from ..common.redisconn import AsyncAnyRedis
from . import keys, protocol
from .topics import Topic

STREAM_MAXLEN = 1000
STREAM_TTL_S = 24 * 3600

_PUBLISH_DURABLE = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('%s', KEYS[2], id .. ' ' .. ARGV[1])
return id
"""
_PUBLISH_DURABLE_PLAIN, _PUBLISH_DURABLE_SHARDED = _PUBLISH_DURABLE % "PUBLISH", _PUBLISH_DURABLE % "SPUBLISH"
_PLAIN_SHA1 = hashlib.sha1(_PUBLISH_DURABLE_PLAIN.encode()).hexdigest()


def sharded(redis: AsyncAnyRedis) -> bool:
    """True on a Redis Cluster: publish with SPUBLISH, subscribe with SSUBSCRIBE."""
    return isinstance(redis, RedisCluster)


def publish_payload(target: Any, sharded_: bool, channel: str, payload: str) -> Any:
    """PUBLISH or SPUBLISH `payload` on a client or a pipeline (whose queued command is returned)."""
    return target.spublish(channel, payload) if sharded_ else target.publish(channel, payload)


def text_of(value: object) -> str:
    """A Redis reply as text (the hub's clients do not decode responses: pub/sub payloads stay bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


async def publish(redis: AsyncAnyRedis, ns: str, topic: Topic, kind: str, content: object, *,
                  durable: bool = False, priority: int | None = None, frame_id: str | None = None,
                  origin: str | None = None, lean: LeanRedis | None = None) -> str:
    """Send one frame to every subscriber of `topic` on every worker; returns its id. With `lean` (the
    same single Redis, common/leanredis.py), through that connection instead of redis-py's pool."""
    body_json = protocol.dumps(protocol.body(kind, content, topic=str(topic), priority=priority, origin=origin))
    if lean is not None:
        return await publish_lean(lean, ns, topic, body_json, durable=durable, frame_id=frame_id)
    return await publish_body(redis, ns, topic, body_json, durable=durable, frame_id=frame_id)


async def publish_lean(lean: LeanRedis, ns: str, topic: Topic, body_json: str, *, durable: bool = False,
                       frame_id: str | None = None) -> str:
    """`publish_body` on a single Redis through a lean connection (the hub's per-message path)."""
    if durable:
        args = (keys.stream(ns, topic), keys.channel(ns, topic), body_json, STREAM_MAXLEN, STREAM_TTL_S)
        try:
            result = await lean.call("EVALSHA", _PLAIN_SHA1, 2, *args)
        except NoScriptError:  # a Redis that has not seen it yet (or restarted): EVAL caches it
            result = await lean.call("EVAL", _PUBLISH_DURABLE_PLAIN, 2, *args)
        return text_of(result)
    fid = frame_id or protocol.ephemeral_id()
    await lean.call("PUBLISH", keys.channel(ns, topic), protocol.bus_payload(fid, body_json))
    return fid


async def publish_body(redis: AsyncAnyRedis, ns: str, topic: Topic, body_json: str, *, durable: bool = False,
                       frame_id: str | None = None) -> str:
    shard = sharded(redis)
    if durable:
        script = _PUBLISH_DURABLE_SHARDED if shard else _PUBLISH_DURABLE_PLAIN
        result = await redis.eval(script, 2, keys.stream(ns, topic), keys.channel(ns, topic),
                                  body_json, str(STREAM_MAXLEN), str(STREAM_TTL_S))
        return text_of(result)
    fid = frame_id or protocol.ephemeral_id()
    await publish_payload(redis, shard, keys.channel(ns, topic), protocol.bus_payload(fid, body_json))
    return fid


async def replay(redis: AsyncAnyRedis, ns: str, topic: Topic, after_id: str, limit: int = 500) -> list[str]:
    """Frames of a durable topic published after `after_id` (exclusive), oldest first, ready to send."""
    return [protocol.with_id(fid, body) for fid, body in await stream_after(redis, keys.stream(ns, topic),
                                                                            after_id, limit)]


async def stream_after(redis: AsyncAnyRedis, stream_key: str, after_id: str, limit: int = 500) -> list[tuple[str, str]]:
    """(id, body json) of a topic's stream entries after `after_id` (exclusive), oldest first."""
    entries = await redis.xrange(stream_key, min=f"({after_id}", max="+", count=limit) or []
    out = []
    for entry_id, fields in entries:
        raw = (fields or {}).get(b"b", (fields or {}).get("b"))
        if raw is not None:
            out.append((text_of(entry_id), text_of(raw)))
    return out
