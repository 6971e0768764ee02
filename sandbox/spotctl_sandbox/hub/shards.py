"""Sharded pub/sub on a Redis Cluster: SSUBSCRIBE on the shard that owns each channel, heal on failover.

Why not redis-py's `ClusterPubSub` (8.1): its `get_sharded_message(timeout)` waits on each node's
connection in turn, so a frame on one shard waits behind the others' timeouts (or, with timeout 0,
the loop spins); and it re-homes channels only when some other command's error refreshes the slot
map, replaying nothing. Here each shard has one plain `PubSub` connection with its own reader task
feeding one queue, and the slot map is the cluster client's (`get_node_from_key`).

Failover: a shard's connection breaks -> its channels are healing; the slot map is re-read until a
live master serves them (the replica once promoted) -> SSUBSCRIBE there -> each durable channel's
stream is read after the last id this worker delivered (or after its subscription time), so frames
published meanwhile are delivered in order, once; live frames that arrive while healing wait for it.
Ephemeral frames published while a shard is down are lost (they are never replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from spotctl_sandbox.realtime import bus, keys, protocol
from spotctl_sandbox.realtime.topics import Topic

from .core.fanout import BURST_MAX_BYTES, BURST_MAX_FRAMES, Published

log = logging.getLogger("spotctl_sandbox.hub.shards")

HEAL_EVERY_S = 0.2  # slot map re-read while a shard is away
GAP_LIMIT = 1000  # stream entries read per channel when healing (a stream keeps 1000)


@dataclass
class _Link:
    """One shard's pub/sub connection and the task reading it."""

    node: str
    client: aioredis.Redis
    pubsub: aioredis.client.PubSub
    channels: set[str] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class ShardedBroker:
    """The `Broker` (broker.py) for a Redis Cluster."""

    def __init__(self, redis: RedisCluster) -> None:
        self.redis = redis
        self.queue: asyncio.Queue[Published] = asyncio.Queue()
        self.links: dict[str, _Link] = {}  # node name -> link
        self.wanted: dict[str, str] = {}  # channel -> the node it is subscribed on ("" while healing)
        self.last_id: dict[str, str] = {}  # channel -> the greatest durable id queued for it
        self.held: dict[str, list[Published]] = {}  # healing channel -> durable frames that came live meanwhile
        self._lock = asyncio.Lock()
        self._healer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.redis.initialize()

    async def stop(self) -> None:
        for task in [self._healer, *(link.task for link in self.links.values())]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for link in self.links.values():
            with contextlib.suppress(Exception):
                await link.pubsub.aclose()
                await link.client.aclose()
        self.links.clear()

    async def subscribe(self, channel: str) -> None:
        async with self._lock:
            if channel in self.wanted:
                return
            self.wanted[channel] = ""
            self.last_id.setdefault(channel, f"{protocol.now_ms():.0f}-0")  # gap fill starts no earlier
            try:
                await self._home(channel)
            except (RedisError, OSError) as exc:  # the shard is away: the healer subscribes it later
                log.warning("SSUBSCRIBE %s failed (%s): healing", channel, exc)
                self._heal_soon()

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            node = self.wanted.pop(channel, None)
            self.last_id.pop(channel, None)
            self.held.pop(channel, None)
            link = self.links.get(node or "")
            if link is not None and channel in link.channels:
                link.channels.discard(channel)
                with contextlib.suppress(RedisError, OSError):
                    await link.pubsub.sunsubscribe(channel)

    async def read_burst(self, timeout: float) -> list[Published]:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return []
        burst, size = [first], len(first.body_json)
        while len(burst) < BURST_MAX_FRAMES and size < BURST_MAX_BYTES and not self.queue.empty():
            pub = self.queue.get_nowait()
            burst.append(pub)
            size += len(pub.body_json)
        return burst

    async def publish(self, ns: str, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, origin: str | None = None) -> str:
        return await bus.publish(self.redis, ns, topic, kind, content, durable=durable, priority=priority,
                                 origin=origin)

    async def replay(self, ns: str, topic: Topic, after_id: str) -> list[str]:
        return await bus.replay(self.redis, ns, topic, after_id)

    # --- shards --------------------------------------------------------------------------------

    async def _home(self, channel: str) -> None:
        """SSUBSCRIBE `channel` on the master that serves its slot now."""
        node = self.redis.get_node_from_key(channel)
        if node is None:
            raise RedisError(f"no master serves the slot of {channel} yet")
        link = self.links.get(node.name)
        fresh = link is None
        if link is None:
            link = _link(node)
        try:
            await link.pubsub.ssubscribe(channel)
        except BaseException:
            if fresh:
                await _close(link)
            raise
        if fresh:
            self.links[node.name] = link
            link.task = asyncio.get_running_loop().create_task(self._read(link))
        link.channels.add(channel)
        self.wanted[channel] = node.name

    async def _read(self, link: _Link) -> None:
        """Queue what one shard sends; on a broken connection hand its channels to the healer."""
        try:
            while True:
                if not link.pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await link.pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._take(link, message)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            log.warning("shard %s lost (%s): re-homing %d channel(s)", link.node, exc, len(link.channels))
        self._drop(link)
        self._heal_soon()

    def _take(self, link: _Link, message: dict[str, Any]) -> None:
        kind = bus.text_of(message.get("type"))
        channel = bus.text_of(message.get("channel"))
        if kind == "sunsubscribe":  # the slot moved away (resharding): follow it unless we left
            if channel in self.wanted and channel in link.channels:
                link.channels.discard(channel)
                self.wanted[channel] = ""
                self.held.setdefault(channel, [])
                self._heal_soon()
            return
        if kind != "smessage" or channel not in self.wanted:
            return
        try:
            pub = Published.decode(channel, message["data"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipped a frame on %s that is not a hub frame: %s", channel, exc)
            return
        if channel in self.held:
            if keys.is_stream_id(pub.frame_id):
                self.held[channel].append(pub)
                return
        elif keys.is_stream_id(pub.frame_id):
            if not _after(pub.frame_id, self.last_id.get(channel, "0-0")):
                return
            self.last_id[channel] = pub.frame_id
        self.queue.put_nowait(pub)

    def _drop(self, link: _Link) -> None:
        if self.links.get(link.node) is link:
            del self.links[link.node]
        for channel in link.channels:
            if channel in self.wanted:
                self.wanted[channel] = ""
                self.held.setdefault(channel, [])
        link.channels.clear()
        asyncio.get_running_loop().create_task(_close(link))

    def _heal_soon(self) -> None:
        if self._healer is None or self._healer.done():
            self._healer = asyncio.get_running_loop().create_task(self._heal())

    async def _heal(self) -> None:
        """Until every wanted channel is subscribed again: re-read the slot map, re-home, fill gaps."""
        while any(not node for node in self.wanted.values()):
            with contextlib.suppress(RedisError, OSError):
                await self.redis.nodes_manager.initialize()
            async with self._lock:
                for channel in [c for c, node in self.wanted.items() if not node]:
                    try:
                        await self._home(channel)
                        await self._fill(channel)
                    except (RedisError, OSError) as exc:  # its master is not back yet
                        log.debug("re-homing %s: %s", channel, exc)
            if any(not node for node in self.wanted.values()):
                await asyncio.sleep(HEAL_EVERY_S)
        log.info("shard subscriptions healed: %d shard(s) now", len(self.links))

    async def _fill(self, channel: str) -> None:
        """Queue the durable frames of `channel` this worker missed, then those held while healing."""
        ns, topic = keys.parse_channel(channel)
        entries = await bus.stream_after(self.redis, keys.stream(ns, topic), self.last_id.get(channel, "0-0"),
                                         GAP_LIMIT)
        held = self.held.pop(channel, [])
        for frame_id, body in entries:
            self._queue_durable(Published.decode(channel, protocol.bus_payload(frame_id, body)))
        for pub in held:
            self._queue_durable(pub)
        if entries:
            log.info("replayed %d frame(s) of %s missed while its shard was away", len(entries), channel)

    def _queue_durable(self, pub: Published) -> None:
        if _after(pub.frame_id, self.last_id.get(pub.channel, "0-0")):
            self.last_id[pub.channel] = pub.frame_id
            self.queue.put_nowait(pub)


def _after(a: str, b: str) -> bool:
    """Stream id `a` > `b` (compared as (ms, seq) integers)."""
    am, _, aseq = a.partition("-")
    bm, _, bseq = b.partition("-")
    return (int(am), int(aseq or 0)) > (int(bm), int(bseq or 0))


def _link(node: ClusterNode) -> _Link:
    """A pub/sub connection of its own to `node`, with the cluster client's settings; no retries, so
    a lost shard is noticed at once (the healer does the retrying, against the fresh slot map)."""
    settings = {**node.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    client = aioredis.Redis(connection_pool=aioredis.ConnectionPool(connection_class=node.connection_class,
                                                                    **settings))
    return _Link(node.name, client, client.pubsub(ignore_subscribe_messages=False))


async def _close(link: _Link) -> None:
    with contextlib.suppress(Exception):
        await link.pubsub.aclose()
        await link.client.aclose()
