"""The bus between hub workers: what the hub needs of it (`Broker`) and the single-Redis pub/sub ones.

A worker subscribes to a channel while it has local subscribers, reads published frames in bursts
(bounded, so one dispatch bounds one connection's write) and publishes; durable topics also keep a
stream for resume. The wire format is `spotctl_sandbox.realtime.bus`, which the backend's workers
publish through as well. On one Redis over TCP the subscription is read by common/leansub.py
(`LeanBroker`); over TLS or a unix socket by redis-py's PubSub (`RedisBroker`); a cluster: shards.py.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox.common.leanredis import LeanRedis
from spotctl_sandbox.common.leansub import LeanSub
from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.realtime import bus, keys
from spotctl_sandbox.realtime.topics import Topic

from .core.fanout import BURST_MAX_BYTES, BURST_MAX_FRAMES, Published
from .shards import ShardedBroker

log = logging.getLogger("spotctl_sandbox.hub")


class Broker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def read_burst(self, timeout: float) -> list[Published]:
        """The frames published since the last read (waiting up to `timeout` for the first)."""
        ...

    async def publish(self, ns: str, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, origin: str | None = None) -> str: ...

    async def replay(self, ns: str, topic: Topic, after_id: str) -> list[str]:
        """Frames of a durable topic after `after_id`, serialized, oldest first."""
        ...


def for_redis(redis: AsyncAnyRedis, lean: LeanRedis | None = None) -> Broker:
    """Sharded pub/sub on a Redis Cluster (shards.py); classic pub/sub on a single Redis, read through
    a lean subscription and published through `lean` when there is one (one server over plain TCP),
    else through redis-py (TLS, unix sockets)."""
    if isinstance(redis, RedisCluster):
        return ShardedBroker(redis)
    if lean is not None:
        return LeanBroker(redis, lean)
    return RedisBroker(redis)


class _Streams:
    """What both single-Redis brokers share: the publish (a script: PUBLISH + the durable stream) and replay."""

    def __init__(self, redis: aioredis.Redis, lean: LeanRedis | None = None) -> None:
        self.redis, self.lean = redis, lean

    async def publish(self, ns: str, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, origin: str | None = None) -> str:
        return await bus.publish(self.redis, ns, topic, kind, content, durable=durable, priority=priority,
                                 origin=origin, lean=self.lean)

    async def replay(self, ns: str, topic: Topic, after_id: str) -> list[str]:
        return await bus.replay(self.redis, ns, topic, after_id)


class RedisBroker(_Streams):
    """Redis pub/sub through redis-py's PubSub (one connection per worker), streams for durable topics."""

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__(redis)
        self.pubsub = redis.pubsub(ignore_subscribe_messages=True)

    async def start(self) -> None:
        await self.pubsub.subscribe(keys.CONTROL_CHANNEL)  # so a worker without clients still reads

    async def stop(self) -> None:
        await self.pubsub.aclose()

    async def subscribe(self, channel: str) -> None:
        await self.pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self.pubsub.unsubscribe(channel)

    async def read_burst(self, timeout: float) -> list[Published]:
        first = await self.pubsub.get_message(timeout=timeout)
        if first is None:
            return []
        burst, size = [first], _size(first)
        while len(burst) < BURST_MAX_FRAMES and size < BURST_MAX_BYTES:
            more = await self.pubsub.get_message(timeout=0)
            if more is None:
                break
            burst.append(more)
            size += _size(more)
        return [pub for m in burst
                if m.get("type") == "message" and (pub := _decode(m["channel"], m["data"])) is not None]


class LeanBroker(_Streams):
    """The same bus, its subscription read through common/leansub.py (hiredis on one uvloop transport,
    a burst taken at once) instead of redis-py's PubSub and its per-message wrappers: issue 18."""

    def __init__(self, redis: aioredis.Redis, lean: LeanRedis) -> None:
        super().__init__(redis, lean)
        self.sub = LeanSub.beside(lean)

    async def start(self) -> None:
        self.sub.subscribe(keys.CONTROL_CHANNEL)  # so a worker without clients still reads
        await self.sub.connect()  # subscribed before the worker serves anyone (and fails if Redis is away)

    async def stop(self) -> None:
        self.sub.close()

    async def subscribe(self, channel: str) -> None:
        self.sub.subscribe(channel)  # never lost: one made while Redis is away is sent on reconnect

    async def unsubscribe(self, channel: str) -> None:
        self.sub.unsubscribe(channel)

    async def read_burst(self, timeout: float) -> list[Published]:
        burst = await self.sub.read(timeout, BURST_MAX_FRAMES, BURST_MAX_BYTES)
        return [pub for channel, data in burst if (pub := _decode(channel, data)) is not None]


def _decode(channel_name: bytes | str, data: bytes | str) -> Published | None:
    """A pub/sub message as a Published frame; a payload that is not one is logged and skipped,
    never allowed to fail the rest of its burst."""
    channel = bus.text_of(channel_name)
    try:
        return Published.decode(channel, data)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("skipped a frame on %s that is not a hub frame: %s", channel, exc)
        return None


def _size(message: dict[str, Any]) -> int:
    data = message.get("data")
    return len(data) if isinstance(data, bytes | str) else 0
