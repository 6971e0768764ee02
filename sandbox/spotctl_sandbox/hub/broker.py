"""The bus between hub workers: what the hub needs of it (`Broker`) and the Redis pub/sub one.

A worker subscribes to a channel while it has local subscribers, reads published frames in bursts
(bounded, so one dispatch bounds one connection's write) and publishes; durable topics also keep a
stream for resume. The wire format is `spotctl_sandbox.realtime.bus`, which the backend's workers
publish through as well.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox.common.leanredis import LeanRedis
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
    """Sharded pub/sub on a Redis Cluster (shards.py), classic pub/sub on a single Redis (publishing
    through `lean`, the same Redis's lean connection, when there is one)."""
    if isinstance(redis, RedisCluster):
        return ShardedBroker(redis)
    return RedisBroker(redis, lean)


class RedisBroker:
    """Redis pub/sub for fan-out (one connection per worker), streams for durable topics."""

    def __init__(self, redis: aioredis.Redis, lean: LeanRedis | None = None) -> None:
        self.redis, self.lean = redis, lean
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
        return [pub for message in burst if (pub := _decode(message)) is not None]

    async def publish(self, ns: str, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, origin: str | None = None) -> str:
        return await bus.publish(self.redis, ns, topic, kind, content, durable=durable, priority=priority,
                                 origin=origin, lean=self.lean)

    async def replay(self, ns: str, topic: Topic, after_id: str) -> list[str]:
        return await bus.replay(self.redis, ns, topic, after_id)


def _decode(message: dict[str, Any]) -> Published | None:
    """A pub/sub message as a Published frame; a payload that is not one is logged and skipped,
    never allowed to fail the rest of its burst."""
    if message.get("type") != "message":
        return None
    channel = bus.text_of(message["channel"])
    try:
        return Published.decode(channel, message["data"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("skipped a frame on %s that is not a hub frame: %s", channel, exc)
        return None


def _size(message: dict[str, Any]) -> int:
    data = message.get("data")
    return len(data) if isinstance(data, bytes | str) else 0
