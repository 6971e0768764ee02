"""One worker's hub: its connections, their subscriptions on the bus, and the fan-out loop.

The parts are elsewhere — who follows what (`core.registry`), who gets which bytes (`core.fanout`),
the bus (`broker`), presence and the per-user cap (`presence`), keepalive (`core.keepalive`,
`keepalive`) — and this class runs them: a read loop that plans and writes each burst, and a tick
that flushes notification batches, pings and refreshes liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import RedisError
from websockets.protocol import State

from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.realtime import keys, protocol, publish
from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.protocol import CloseCode, ErrorCode
from spotctl_sandbox.realtime.topics import Topic

from . import keepalive, metrics
from .broker import Broker, for_redis
from .config import HubConfig
from .conn import Conn
from .core import fanout
from .core.activity import Activity
from .core.batching import Batcher
from .core.keepalive import PingWheel
from .core.presence import conn_id_of
from .core.registry import Registry
from .presence import PresenceStore

log = logging.getLogger("spotctl_sandbox.hub")

BATCH = fanout.BATCH
OVER_CAP = "too many connections: the oldest one is closed"  # the per-user cap's reason, kicked or refused
OPEN = State.OPEN


class Hub:
    def __init__(self, cfg: HubConfig, redis: AsyncAnyRedis, worker: int, broker: Broker | None = None) -> None:
        self.cfg, self.redis, self.worker = cfg, redis, worker
        self.broker: Broker = broker or for_redis(redis)
        self.registry: Registry[Conn] = Registry()
        self.stale_after_s = max(30.0, 3 * cfg.settings.ws_heartbeat_interval)
        self.presence = PresenceStore(redis, self.stale_after_s)
        self.limits = fanout.Limits(cfg.send_buffer_soft, cfg.send_buffer_hard, cfg.send_buffer_grace_s)
        self.batcher: Batcher[dict[str, Any]] = Batcher(cfg.low_batch_interval_s)
        self.pings: PingWheel[Conn] = PingWheel(cfg.settings.ws_heartbeat_interval)
        self.draining = False
        self._tasks: list[asyncio.Task[None]] = []
        self._latency = metrics.delivery()
        self.activity = Activity(worker)  # per-tenant counts for the hub_activity events (activity.py)

    @property
    def conns(self) -> dict[str, Conn]:
        return self.registry.conns

    async def start(self) -> None:
        await self.broker.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop()), loop.create_task(self._tick_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        metrics.flush()
        await self.broker.stop()

    # --- subscriptions ---------------------------------------------------------------------------

    async def subscribe(self, conn: Conn, topic: Topic, *, replay: bool = True) -> int:
        """Add `conn` to a topic on this worker; replays missed durable frames when resuming."""
        if self.registry.subscribe(conn, keys.channel(conn.ns, topic)):
            await self.broker.subscribe(keys.channel(conn.ns, topic))
            metrics.SUBSCRIPTIONS.labels(metrics.WORKER).inc()
        conn.topics.add(topic)
        return await self.replay(conn, topic) if replay else 0

    async def replay(self, conn: Conn, topic: Topic) -> int:
        """Resend a durable topic's frames published after the id the client resumed from."""
        if conn.resume_from is None:
            return 0
        frames = await self.broker.replay(conn.ns, topic, conn.resume_from)
        for text in frames:
            conn.send(text)
        self.activity.delivered(conn.ns, len(frames))
        return len(frames)

    async def unsubscribe(self, conn: Conn, topic: Topic) -> None:
        conn.topics.discard(topic)
        if self.registry.unsubscribe(conn, keys.channel(conn.ns, topic)):
            await self.broker.unsubscribe(keys.channel(conn.ns, topic))
            metrics.SUBSCRIPTIONS.labels(metrics.WORKER).dec()

    async def publish(self, ns: str, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, origin: str | None = None) -> str:
        return await self.broker.publish(ns, topic, kind, content, durable=durable, priority=priority,
                                         origin=origin)

    # --- connection lifecycle --------------------------------------------------------------------

    async def register(self, conn: Conn) -> bool:
        """Count the connection for the user (closing the oldest over the cap) and subscribe its topic.

        False when `conn` is itself the oldest over the cap (it opened first but was admitted after
        younger ones): the caller closes it, as a kick over the bus would reach only subscribed ones."""
        self.registry.add(conn)
        self.activity.connected(conn.ns)
        metrics.CONNECTIONS.labels(metrics.WORKER).inc()
        victims = await self.presence.arrive(conn, self.cfg.settings.max_ws_connections_per_user)
        me = conn.member  # a property formatting its text: once
        for victim in victims:
            if victim != me:
                await self.publish(conn.ns, Topic.user(conn.user_id), fanout.KICK,
                                   {"conn_id": conn_id_of(victim), "reason": OVER_CAP})
        if me in victims:
            return False
        await self.subscribe(conn, Topic.user(conn.user_id), replay=False)
        return True

    async def deliver_pending(self, conn: Conn) -> int:
        """Notifications parked while the user was offline, highest priority first."""
        pending = await publish.pending_bodies(self.redis, conn.ns, conn.user_id)
        for nid, body_json in pending:
            conn.send(protocol.with_id(nid, body_json))
        metrics.msg_out(fanout.NOTIFICATION).inc(len(pending))
        self.activity.delivered(conn.ns, len(pending))
        await publish.mark_delivered(self.redis, conn.ns, conn.user_id, [nid for nid, _ in pending])
        return len(pending)

    async def unregister(self, conn: Conn) -> None:
        if self.registry.remove(conn):
            self.activity.disconnected(conn.ns)
            metrics.CONNECTIONS.labels(metrics.WORKER).dec()
        for topic in list(conn.topics):
            await self.unsubscribe(conn, topic)
        with contextlib.suppress(Exception):
            await self.presence.leave(conn)

    async def drain(self) -> None:
        """Graceful shutdown: tell every client to reconnect (to another worker or host), then close."""
        self.draining = True
        notice = protocol.frame("reconnect", {"reason": "server shutting down", "retry_after_ms": 500})
        for conn in list(self.conns.values()):
            conn.send(notice)
            conn.close_soon(CloseCode.RESTART, "server shutting down: reconnect")
        deadline = time.monotonic() + self.cfg.shutdown_grace_s
        while self.conns and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # --- dispatch ----------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        """Read the bus and dispatch. A bus that is down is retried every 0.1 s (the subscription is
        made again as soon as Redis answers) and said once per outage, not with a traceback each time."""
        down_since: float | None = None
        while True:
            try:
                burst = await self.broker.read_burst(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("bus read failed, retrying until Redis answers: %r", exc)
                await asyncio.sleep(0.1)
                continue
            if down_since is not None:
                log.warning("bus read again after %.1fs", time.monotonic() - down_since)
                down_since = None
            if burst:
                try:
                    self.dispatch(burst)
                except Exception:
                    log.exception("dispatch failed")

    def dispatch(self, burst: list[fanout.Published]) -> None:
        """Plan the burst (core.fanout) and carry the plan out: writes, closes, kicks, bookkeeping."""
        now = time.monotonic()
        out = fanout.plan(burst, self.registry.subs, now, self.limits)
        for conn, frames in out.writes.items():  # Conn.write inlined (the hot loop): the plan left out closing ones
            if conn.protocol.state is OPEN:
                conn.transport.write(frames if isinstance(frames, bytes) else b"".join(frames))
        for conn in out.closes:
            metrics.SHED.labels(metrics.WORKER, "closed_slow_consumer").inc()
            conn.drop(CloseCode.TRY_AGAIN, "slow consumer: send buffer full")
        if out.shed:
            metrics.SHED.labels(metrics.WORKER, "slow_consumer").inc(out.shed)
        for conn, reason in out.kicks:
            conn.send(protocol.error_frame(ErrorCode.TOO_MANY_CONNECTIONS, reason))
            conn.close_soon(CloseCode.POLICY, reason)
        full = [(ch, items) for ch, item in out.batched if (items := self.batcher.add(ch, item, now)) is not None]
        wall = time.time()
        for pub, ready in out.fanned:
            if pub.kind != BATCH:  # a batch is made here: its latency is the batching window
                self._latency.observe(max(0.0, wall - pub.server_time / 1000))
            metrics.msg_out(pub.kind).inc(ready)
            self.activity.delivered(keys.namespace_of(pub.channel), ready)
            if ready and pub.kind in (fanout.NOTIFICATION, BATCH):
                ids = [pub.frame_id] if pub.kind == fanout.NOTIFICATION else [
                    n["id"] for n in pub.content["notifications"]]
                ns, topic = keys.parse_channel(pub.channel)
                self._spawn(publish.mark_delivered(self.redis, ns, topic.key, ids))
        if full:
            self.dispatch([_batch(ch, items) for ch, items in full])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(_log_failure)

    async def _tick_loop(self) -> None:
        """Fold the per-message metrics counted since the last tick (metrics.py), flush due low-priority
        batches, ping the wheel's next slice of connections, refresh this worker's connection liveness
        in Redis."""
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            try:
                metrics.flush()
                due = self.batcher.due(time.monotonic())
                if due:
                    self.dispatch([_batch(ch, items) for ch, items in due])
                for conn in self.pings.due(self.conns.values(), time.monotonic()):
                    if not keepalive.visit(conn):
                        metrics.KEEPALIVE_TIMEOUTS.labels(metrics.WORKER).inc()
                if time.monotonic() - last_refresh >= self.stale_after_s / 3:
                    last_refresh = time.monotonic()
                    await self.presence.refresh(list(self.conns.values()))
            except asyncio.CancelledError:
                raise
            except RedisError as exc:  # liveness is refreshed again on the next tick
                log.warning("tick: Redis failed: %s", exc)
            except Exception:
                log.exception("tick failed")


def _batch(channel: str, items: list[dict[str, Any]]) -> fanout.Published:
    """LOW notifications of one user, as one frame through the same fan-out (and shedding) as any
    other; those it does not reach stay pending in Redis and arrive on reconnect."""
    _, topic = keys.parse_channel(channel)
    content = {"notifications": items}
    ms = protocol.now_ms()
    body_json = protocol.dumps(protocol.body(BATCH, content, topic=str(topic), priority=int(Priority.LOW),
                                             server_time=ms))
    return fanout.Published(channel, protocol.ephemeral_id(), body_json, BATCH, Priority.LOW, None, ms, content)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
