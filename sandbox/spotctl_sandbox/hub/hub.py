"""One worker's hub: its connections, its Redis subscriptions and the dispatch of published frames.

Frames from Redis are drained in bursts, ordered by priority, serialized into one WebSocket frame
(server frames are unmasked, so the bytes are the same for everyone) and written to every local
subscriber's transport without awaiting - but a connection whose send buffer has stayed over the soft
limit for a grace period (it is not draining: a burst alone does not count) loses LOW/NORMAL frames, and
one over the hard limit is closed, so a slow reader never holds memory or starves pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from . import bus, keepalive, keys, metrics, publish
from .config import HubConfig
from .core.batching import Batcher
from .core.keepalive import PingWheel
from .core.presence import Presence, conn_id_of, member, over_cap, status
from .core.priority import Priority, PriorityOutbox
from .core.ratelimit import ConnectionLimiter
from .protocol import envelope

log = logging.getLogger("spotctl_sandbox.hub")

CLOSE_RECONNECT = 1012  # service restart: reconnect (elsewhere)
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
REFRESH_BATCH = 1000
DROP_AFTER_S = 2.0  # a slow consumer's close handshake gets this long before the socket is aborted
BURST_MAX_FRAMES, BURST_MAX_BYTES = 1000, 256 * 1024  # one dispatch; bounds a connection's write
_REFRESH = """
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[i + 2])
  redis.call('EXPIRE', key, ARGV[2])
end
return #KEYS
"""


@dataclass(eq=False, slots=True)
class Conn:
    id: str
    ns: str
    user_id: str
    name: str
    ws: ServerConnection
    limiter: ConnectionLimiter
    connected_ms: float
    resume_from: str | None = None
    topics: set[str] = field(default_factory=set)
    closing: bool = False
    pinged: bool = False  # a keepalive ping went out: the next visit expects to have heard from the peer
    backlogged_since: float = 0.0  # monotonic time its send buffer was first seen over the soft limit
    transport: Any = field(init=False, default=None)  # the socket's, cached: fan-out reads it per frame

    def __post_init__(self) -> None:
        self.transport = self.ws.transport

    @property
    def member(self) -> str:
        return member(self.connected_ms, self.id)

    def send(self, text: str) -> None:
        """Write without awaiting; dropped if the connection is already closing."""
        self.write(encode_text(text))

    def write(self, frame: bytes) -> bool:
        """Write one whole serialized frame; frames are never fragmented, so writes cannot interleave."""
        if self.closing or self.transport is None or self.ws.protocol.state is not State.OPEN:
            return False
        self.transport.write(frame)
        return True

    def close_soon(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code, reason[:120]))

    def drop(self, code: int, reason: str) -> None:
        """Close a peer that does not read: websockets drains the send buffer before its close frame,
        which never happens here, so the socket is aborted if it is still open after a short wait."""
        self.close_soon(code, reason)
        asyncio.get_running_loop().call_later(DROP_AFTER_S, self._abort)

    def _abort(self) -> None:
        if self.ws.protocol.state is not State.CLOSED:
            self.transport.abort()


def encode_text(text: str) -> bytes:
    """One unmasked, uncompressed text frame (compression is off, so there are no extensions)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class Hub:
    def __init__(self, cfg: HubConfig, redis: Any, worker: int) -> None:
        self.cfg, self.redis, self.worker = cfg, redis, worker
        self.conns: dict[str, Conn] = {}
        self.subs: dict[str, set[Conn]] = {}
        self.pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._refresh_script = redis.register_script(_REFRESH)
        self.batcher: Batcher[dict[str, Any]] = Batcher(cfg.low_batch_interval_s)
        self.draining = False
        self._tasks: list[asyncio.Task[None]] = []
        self.stale_after_s = max(30.0, 3 * cfg.settings.ws_heartbeat_interval)
        self.pings: PingWheel[Conn] = PingWheel(cfg.settings.ws_heartbeat_interval)

    async def start(self) -> None:
        await self.pubsub.subscribe(keys.CONTROL_CHANNEL)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop()), loop.create_task(self._tick_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pubsub.aclose()

    # --- subscriptions ---------------------------------------------------------------------------

    async def subscribe(self, conn: Conn, topic: str, *, replay: bool = True) -> int:
        """Add `conn` to a topic on this worker; replays missed durable frames when resuming."""
        ch = keys.channel(conn.ns, topic)
        members = self.subs.get(ch)
        if members is None:
            members = self.subs[ch] = set()
            await self.pubsub.subscribe(ch)
            metrics.SUBSCRIPTIONS.labels(metrics.WORKER).inc()
        members.add(conn)
        conn.topics.add(topic)
        return await self.replay(conn, topic) if replay else 0

    async def replay(self, conn: Conn, topic: str) -> int:
        """Resend a durable topic's frames published after the id the client resumed from."""
        if conn.resume_from is None:
            return 0
        frames = await bus.replay(self.redis, conn.ns, topic, conn.resume_from)
        for text in frames:
            conn.send(text)
        return len(frames)

    async def unsubscribe(self, conn: Conn, topic: str) -> None:
        ch = keys.channel(conn.ns, topic)
        conn.topics.discard(topic)
        members = self.subs.get(ch)
        if members is None:
            return
        members.discard(conn)
        if not members:
            del self.subs[ch]
            await self.pubsub.unsubscribe(ch)
            metrics.SUBSCRIPTIONS.labels(metrics.WORKER).dec()

    # --- connection lifecycle --------------------------------------------------------------------

    async def register(self, conn: Conn) -> None:
        """Count the connection for the user (closing the oldest over the cap) and subscribe its topic."""
        self.conns[conn.id] = conn
        metrics.CONNECTIONS.labels(metrics.WORKER).inc()
        key = keys.conns(conn.ns, conn.user_id)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - self.stale_after_s)
            pipe.zadd(key, {conn.member: now})
            pipe.expire(key, int(self.stale_after_s * 2))
            pipe.zrange(key, 0, -1)
            *_, members = await pipe.execute()
        victims = over_cap([bus.text_of(m) for m in members], self.cfg.settings.max_ws_connections_per_user)
        if victims:
            await self.redis.zrem(key, *victims)
            for victim in victims:
                await bus.publish(self.redis, conn.ns, keys.user_topic(conn.user_id), "_kick",
                                  {"conn_id": conn_id_of(victim),
                                   "reason": "too many connections: the oldest one is closed"})
        await self.subscribe(conn, keys.user_topic(conn.user_id), replay=False)

    async def deliver_pending(self, conn: Conn) -> int:
        """Notifications parked while the user was offline, highest priority first."""
        pending = await publish.pending_bodies(self.redis, conn.ns, conn.user_id)
        for nid, body_json in pending:
            conn.send(envelope.with_id(nid, body_json))
        metrics.msg_out("notification").inc(len(pending))
        await publish.mark_delivered(self.redis, conn.ns, conn.user_id, [nid for nid, _ in pending])
        return len(pending)

    async def unregister(self, conn: Conn) -> None:
        if self.conns.pop(conn.id, None) is not None:
            metrics.CONNECTIONS.labels(metrics.WORKER).dec()
        for topic in list(conn.topics):
            await self.unsubscribe(conn, topic)
        with contextlib.suppress(Exception):
            await self.redis.zrem(keys.conns(conn.ns, conn.user_id), conn.member)

    async def presence_of(self, ns: str, user_ids: list[str]) -> dict[str, str]:
        cutoff = time.time() - self.stale_after_s
        async with self.redis.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.zcount(keys.conns(ns, uid), cutoff, "+inf")
                pipe.exists(keys.away(ns, uid))
            raw = await pipe.execute()
        return {uid: status(int(raw[2 * i]), bool(raw[2 * i + 1])).value for i, uid in enumerate(user_ids)}

    async def user_presence(self, ns: str, user_id: str) -> Presence:
        return Presence((await self.presence_of(ns, [user_id]))[user_id])

    async def drain(self) -> None:
        """Graceful shutdown: tell every client to reconnect (to another worker or host), then close."""
        self.draining = True
        notice = envelope.frame("reconnect", {"reason": "server shutting down", "retry_after_ms": 500})
        for conn in list(self.conns.values()):
            conn.send(notice)
            conn.close_soon(CLOSE_RECONNECT, "server shutting down: reconnect")
        deadline = time.monotonic() + self.cfg.shutdown_grace_s
        while self.conns and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # --- dispatch ----------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            try:
                first = await self.pubsub.get_message(timeout=1.0)
                if first is None:
                    continue
                burst, size = [first], _size(first)
                while len(burst) < BURST_MAX_FRAMES and size < BURST_MAX_BYTES:
                    more = await self.pubsub.get_message(timeout=0)
                    if more is None:
                        break
                    burst.append(more)
                    size += _size(more)
                self.dispatch(burst)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch failed")
                await asyncio.sleep(0.1)

    def dispatch(self, burst: list[dict[str, Any]]) -> None:
        outbox: PriorityOutbox[tuple[str, str, str, dict[str, Any]]] = PriorityOutbox()
        for message in burst:
            if message.get("type") != "message":
                continue
            ch = bus.text_of(message["channel"])
            frame_id, body_json = bus.split(message["data"])
            meta = json.loads(body_json)
            outbox.push(Priority(int(meta.get("priority", Priority.NORMAL))), (ch, frame_id, body_json, meta))
        # Coalesce: every frame of this burst for one connection leaves in one write (one syscall).
        writes: dict[Conn, list[bytes]] = {}
        published = [meta["server_time"] for ch, frame_id, body_json, meta in outbox.drain()
                     if self._deliver(ch, frame_id, body_json, meta, writes)]
        for conn, frames in writes.items():
            conn.write(frames[0] if len(frames) == 1 else b"".join(frames))
        now = time.time()
        for server_time in published:
            metrics.DELIVERY.labels(metrics.WORKER).observe(max(0.0, now - server_time / 1000))

    def _deliver(self, ch: str, frame_id: str, body_json: str, meta: dict[str, Any],
                 writes: dict[Conn, list[bytes]]) -> bool:
        """Queue one published frame for its local subscribers; True if it was fanned out."""
        targets = self.subs.get(ch)
        if not targets:
            return False
        kind = meta["type"]
        if kind == "_kick":
            victim = self.conns.get(meta["content"]["conn_id"])
            if victim is not None and victim in targets:
                victim.send(envelope.frame("error", {"code": "too_many_connections",
                                                     "message": meta["content"]["reason"]}))
                victim.close_soon(CLOSE_POLICY, meta["content"]["reason"])
            return False
        priority = Priority(int(meta.get("priority", Priority.NORMAL)))
        if kind == "notification" and priority is Priority.LOW:
            self.batcher.add(ch, {"id": frame_id, **meta["content"]}, time.monotonic())
            return False
        origin = meta.get("origin")
        data = encode_text(envelope.with_id(frame_id, body_json))
        ready, soft, now = 0, self.cfg.send_buffer_soft, time.monotonic()
        for conn in targets:  # the hot loop: one pass per recipient, keep it lean
            if conn.closing or conn.id == origin:
                continue
            buffered = conn.transport.get_write_buffer_size()
            if buffered > soft:
                if self._shed(conn, buffered, priority, now):
                    continue
            elif conn.backlogged_since:
                conn.backlogged_since = 0.0
            pending = writes.get(conn)
            if pending is None:
                writes[conn] = [data]
            else:
                pending.append(data)
            ready += 1
        metrics.msg_out(kind).inc(ready)
        if kind == "notification" and ready:
            ns, topic = keys.topic_of(ch)
            self._spawn(publish.mark_delivered(self.redis, ns, topic.split(":", 1)[1], [frame_id]))
        return True

    def _shed(self, conn: Conn, buffered: int, priority: Priority, now: float) -> bool:
        """For a connection with `buffered` bytes over the soft limit: True if this frame is not sent to it.

        Over the hard limit the connection is closed (1013: come back later). Otherwise LOW/NORMAL
        frames are dropped once the buffer has stayed over the soft limit for the grace period.
        """
        if buffered > self.cfg.send_buffer_hard:
            metrics.SHED.labels(metrics.WORKER, "closed_slow_consumer").inc()
            conn.drop(CLOSE_TRY_AGAIN, "slow consumer: send buffer full")
            return True
        if not conn.backlogged_since:
            conn.backlogged_since = now
        if priority >= Priority.HIGH or now - conn.backlogged_since < self.cfg.send_buffer_grace_s:
            return False
        metrics.SHED.labels(metrics.WORKER, "slow_consumer").inc()
        return True

    def _can_send(self, conn: Conn, priority: Priority) -> bool:
        if conn.closing or conn.transport is None:
            return False
        buffered = conn.transport.get_write_buffer_size()
        if buffered > self.cfg.send_buffer_soft:
            return not self._shed(conn, buffered, priority, time.monotonic())
        conn.backlogged_since = 0.0
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(_log_failure)

    async def _tick_loop(self) -> None:
        """Flush due low-priority batches, ping the wheel's next slice of connections, refresh this
        worker's connection liveness in Redis."""
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            try:
                self._flush_batches()
                for conn in self.pings.due(self.conns.values(), time.monotonic()):
                    if not keepalive.visit(conn):
                        metrics.KEEPALIVE_TIMEOUTS.labels(metrics.WORKER).inc()
                if time.monotonic() - last_refresh >= self.stale_after_s / 3:
                    last_refresh = time.monotonic()
                    await self._refresh_liveness()
            except asyncio.CancelledError:
                raise
            except RedisError as exc:  # liveness is refreshed again on the next tick
                log.warning("tick: Redis failed: %s", exc)
            except Exception:
                log.exception("tick failed")

    def _flush_batches(self) -> None:
        for ch, items in self.batcher.due(time.monotonic()):
            data = encode_text(envelope.frame("notification_batch", {"notifications": items}))
            targets = [c for c in self.subs.get(ch, ()) if self._can_send(c, Priority.LOW) and c.write(data)]
            if not targets:
                continue  # still pending in Redis: delivered on reconnect
            metrics.msg_out("notification_batch").inc(len(targets))
            ns, topic = keys.topic_of(ch)
            self._spawn(publish.mark_delivered(self.redis, ns, topic.split(":", 1)[1],
                                               [item["id"] for item in items]))

    async def _refresh_liveness(self) -> None:
        """Re-stamp every local connection in its user's set, a thousand per script call.

        A pipeline of ZADD + EXPIRE per connection cost redis-py ~125 µs of Python per command: at
        6,000 connections per worker that was a third of the worker's CPU (py-spy, 100k load run).
        """
        now, ttl = time.time(), int(self.stale_after_s * 2)
        conns = list(self.conns.values())
        for start in range(0, len(conns), REFRESH_BATCH):
            batch = conns[start:start + REFRESH_BATCH]
            await self._refresh_script(keys=[keys.conns(c.ns, c.user_id) for c in batch],
                                       args=[now, ttl, *(c.member for c in batch)])


def _size(message: dict[str, Any]) -> int:
    data = message.get("data")
    return len(data) if isinstance(data, bytes | str) else 0


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
