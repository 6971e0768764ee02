"""The outbox relay: publishes what writes stored in `outbox` (spotctl_sandbox.events.outbox).

It runs in the API process, woken after every commit that emitted something and once a second
otherwise (rows a killed process left, rows whose broker was down). Each pass locks the oldest rows
(`FOR UPDATE SKIP LOCKED`, so several API processes share the work), publishes them per channel —
Kafka (acknowledged), RabbitMQ (confirmed, mandatory), BullMQ (job id = message id) — and deletes
what the broker took, in the same transaction. A channel that fails is left alone for a backoff
(0.5 s doubling to 5 s) while the others go on; its rows wait, counted in `attempts` with the last
error. At least once: a crash between publishing and the delete publishes again, and consumers
de-duplicate on the message id. Also deletes idempotency records older than a day, every 10 min.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from spotctl_sandbox.api import idempotency, metrics
from spotctl_sandbox.api.errors import describe
from spotctl_sandbox.events import outbox
from spotctl_sandbox.events.outbox import Channel, Message

log = logging.getLogger(__name__)

Sink = Callable[[list[Message]], Awaitable[None]]  # publishes all, or raises


class Relay:
    def __init__(self, pool: AsyncConnectionPool[Any], sinks: Mapping[Channel, Sink], *, batch: int = 200,
                 idle_s: float = 1.0, backoff_s: tuple[float, float] = (0.5, 5.0),
                 housekeeping_s: float = 600.0) -> None:
        self.pool = pool
        self.sinks = dict(sinks)
        self.batch = batch
        self.idle_s = idle_s
        self.backoff_s = backoff_s
        self.housekeeping_s = housekeeping_s
        self._wake = asyncio.Event()
        self._cooling: dict[Channel, tuple[float, float]] = {}  # channel -> (retry at, current backoff)
        self._next_housekeeping = 0.0
        self.published = 0

    async def kick(self) -> None:
        """Something was committed to the outbox: publish now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                if await self.drain_once():
                    self._wake.set()  # a full batch: there may be more
                await self._housekeeping()
            except (psycopg.Error, PoolTimeout) as exc:  # PostgreSQL down: the rows wait there meanwhile
                log.warning("outbox relay cannot reach PostgreSQL: %s", describe(exc))
                await asyncio.sleep(self.backoff_s[0])
            except Exception:  # a bug must not stop the relay for good
                log.exception("outbox relay pass failed")
                await asyncio.sleep(self.backoff_s[1])

    def _ready_channels(self) -> list[str]:
        now = time.monotonic()
        return [c.value for c in Channel if self._cooling.get(c, (0.0, 0.0))[0] <= now]

    async def drain_once(self) -> bool:
        """One pass; True if it took a full batch."""
        ready = self._ready_channels()
        if not ready:
            return False
        async with self.pool.connection() as conn, conn.transaction():
            rows = await outbox.take(conn, self.batch, ready)
            for channel in Channel:
                group = [r for r in rows if r.message.channel is channel]
                if group:
                    await self._publish(conn, channel, group)
        return len(rows) == self.batch

    async def _publish(self, conn: psycopg.AsyncConnection[Any], channel: Channel, rows: list[outbox.Row]) -> None:
        try:
            await self.sinks[channel]([r.message for r in rows])
        except Exception as exc:
            reason = describe(exc)
            _, backoff = self._cooling.get(channel, (0.0, 0.0))
            backoff = min(self.backoff_s[1], backoff * 2) if backoff else self.backoff_s[0]
            self._cooling[channel] = (time.monotonic() + backoff, backoff)
            log.warning("outbox relay: %d %s message(s) wait (%s); next try in %.1f s", len(rows), channel.value,
                        reason, backoff)
            await outbox.failed(conn, [r.id for r in rows], reason)
            return
        self._cooling.pop(channel, None)
        await outbox.published(conn, [r.id for r in rows])
        self.published += len(rows)
        for row in rows:
            message = row.message
            if channel is Channel.KAFKA:
                metrics.EVENTS.labels(message.target).inc()
            elif channel is Channel.BULLMQ:
                metrics.JOBS.labels(message.target, message.name or "").inc()

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.housekeeping_s
        async with self.pool.connection() as conn:
            dropped = await idempotency.forget_old(conn)
        if dropped:
            log.info("dropped %d idempotency records older than %d h", dropped, idempotency.KEEP_HOURS)
