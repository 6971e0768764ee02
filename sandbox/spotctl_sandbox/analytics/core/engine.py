"""AnalyticsEngine: opens the stores, applies the schema, and runs the parts of the seed's Core
Engine together — event bus, state manager, metrics collector, alert manager — with the real-time
processor, the batch processor and live scoring by the ml side.

Windows the processor closes go, in order: InfluxDB (or its buffer; this may make the stream wait),
the live channel, then anomaly scoring and alert rules (best effort: a failing notification is
logged and recorded, it does not hold up the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics import schema_sql
from spotctl_sandbox.analytics.config import AnalyticsConfig
from spotctl_sandbox.analytics.core.alert_manager import AlertManager
from spotctl_sandbox.analytics.core.event_bus import EventBus
from spotctl_sandbox.analytics.core.metrics_collector import MetricsCollector
from spotctl_sandbox.analytics.core.ml_bridge import MlBridge, MlUnavailable, Score
from spotctl_sandbox.analytics.core.state_manager import StateManager
from spotctl_sandbox.analytics.processing.batch import BatchProcessor
from spotctl_sandbox.analytics.processing.points import minute_features, window_points
from spotctl_sandbox.analytics.processing.realtime import RealTimeProcessor, SongArtists
from spotctl_sandbox.analytics.processing.windows import StreamWindows, WindowResult
from spotctl_sandbox.analytics.storage.events import StoredEvent
from spotctl_sandbox.analytics.storage.manager import StorageManager
from spotctl_sandbox.analytics.storage.timeseries import InfluxRejected
from spotctl_sandbox.db import MIGRATION_LOCK_ID, amigrate

log = logging.getLogger(__name__)
SYSTEM_METRICS_INTERVAL_S = 10.0


async def apply_schema(conn: Any) -> None:
    """The catalogue's schema, then ours, each under the stack's migration lock: CREATE ... IF NOT EXISTS
    run by two processes at once can still collide (the ML side applies this schema too)."""
    await amigrate(conn)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        await conn.execute(schema_sql().encode())


class AnalyticsEngine:
    def __init__(self, config: AnalyticsConfig) -> None:
        self.config = config
        s = config.settings
        self.redis = aioredis.Redis.from_url(s.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.pool = AsyncConnectionPool(s.database_url, min_size=1, max_size=8, open=False,
                                        kwargs={"autocommit": True, "connect_timeout": 5}, reconnect_timeout=0)
        self.storage = StorageManager(influx_url=config.influxdb_url, influx_db=config.influxdb_db, redis=self.redis,
                                      pool=self.pool, elasticsearch_url=config.elasticsearch_url,
                                      spill_max=config.spill_max_points)
        self.bus = EventBus(s.kafka_bootstrap_servers, self.redis, s.redis_url)
        self.metrics_collector = MetricsCollector(self.storage.time_series, self.bus)
        self.alert_manager = AlertManager(self.pool, self.redis)
        self.state_manager = StateManager(self.pool, config.consumer_group)
        self.ml = MlBridge()
        self.windows = StreamWindows(lateness_s=config.lateness_s, idle_s=config.idle_s)
        self.batch = BatchProcessor(redis_url=s.redis_url, redis=self.redis, pool=self.pool,
                                    time_series=self.storage.time_series, hub_metrics_url=config.hub_metrics_url)
        self.processor = RealTimeProcessor(
            bootstrap=s.kafka_bootstrap_servers, group=config.consumer_group, mode=config.consumer_mode,
            windows=self.windows, state=self.state_manager, artists=SongArtists(self.pool), sink=self.on_closed,
            live=self.on_open, events=self.store_events, dead_letters=self.bus.dead_letters,
            store_counted=config.store_events == "all", checkpoint_interval_s=config.checkpoint_interval_s,
            live_interval_s=config.live_interval_s)
        self.ready = asyncio.Event()
        self.startup_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open what is reachable now; the rest is retried in the background (health says what waits)."""
        await self.pool.open(wait=False)
        await self.storage.connect_all()
        self._tasks.append(asyncio.create_task(self._start_when_ready(), name="analytics-start"))
        self._tasks.append(asyncio.create_task(self._system_metrics(), name="analytics-system-metrics"))

    async def _start_when_ready(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self.pool.connection(timeout=5) as conn:
                    await apply_schema(conn)
                await self.alert_manager.load()
                await self.bus.ensure_topics()
                await self.processor.start()
                await self.batch.start(schedule=self.config.schedule_jobs)
            except Exception as exc:
                self.startup_error = f"{type(exc).__name__}: {exc}"
                log.warning("analytics: not started yet (%s); retrying", self.startup_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.startup_error = None
            self.ready.set()
            log.info("analytics: engine running (%s mode, group %s)", self.config.consumer_mode,
                     self.config.consumer_group)
            return

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.ready.is_set():
            await self.processor.stop()
            await self.batch.close()
        await self.bus.close()
        await self.storage.close()
        await self.pool.close()
        await self.redis.aclose()

    async def _system_metrics(self) -> None:
        while True:
            await asyncio.sleep(SYSTEM_METRICS_INTERVAL_S)
            try:
                await self.metrics_collector.collect_system_metrics()
            except Exception as exc:
                log.debug("system metrics not collected: %s", exc)

    # -- what the processor hands over -----------------------------------------------------------

    async def on_closed(self, results: list[WindowResult]) -> None:
        try:
            await self.storage.time_series.write_points(window_points(results))
        except InfluxRejected as exc:  # a bug in our points, not an outage: retrying would stall forever
            log.error("analytics: InfluxDB rejected closed windows: %s", exc)
        minutes = [r for r in results if r.window == "1m"]
        for r in minutes:
            with contextlib.suppress(Exception):
                await self.bus.publish_update(_frame(r))
        for r in minutes:
            try:
                await self.alert_manager.observe(r, await self.score(r))
            except Exception:
                log.exception("analytics: alert evaluation failed for %s at %s", r.tenant, r.start)

    async def score(self, minute: WindowResult) -> Score | None:
        try:
            p99 = await self.batch.delivery_p99_of(int(minute.start))
        except Exception:
            p99 = None
        features: dict[str, Any] = {"minute": minute.start, **minute_features(minute, p99)}
        try:
            return await self.ml.score(minute.tenant, features)
        except MlUnavailable:
            return None

    async def on_open(self, results: list[WindowResult]) -> None:
        if not results:
            return
        await self.storage.time_series.write_points(window_points(results))
        for r in results:
            await self.storage.cache.set_live(r.tenant, r.start, r.values)
            await self.bus.publish_update(_frame(r))

    async def store_events(self, events: list[StoredEvent]) -> None:
        await self.storage.event.store(events)

    # -- health ----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        backends = await self.storage.health()
        stats = self.processor.stats
        lag = None if stats.last_event_ts is None else round(time.time() - stats.last_event_ts, 3)
        processor = {"state": stats.state, "detail": stats.detail, "mode": self.config.consumer_mode,
                     "group": self.config.consumer_group, "assigned": stats.assigned, "counted": stats.counted,
                     "late": stats.late, "duplicate": stats.duplicate, "malformed": stats.malformed,
                     "checkpoints": stats.checkpoints, "watermark": _finite(self.windows.watermark),
                     "event_time_lag_s": lag}
        ok = self.ready.is_set() and all(b["ok"] for b in backends.values()) and stats.state == "running"
        return {"status": "ok" if ok else "degraded", "service": "analytics",
                "event_store": self.storage.event.backend.value, "ready": self.ready.is_set(),
                "startup_error": self.startup_error, "ml": self.ml.status, "processor": processor,
                "dependencies": backends}


def _finite(value: float) -> float | None:
    return value if value != float("-inf") else None


def _frame(r: WindowResult) -> dict[str, Any]:
    return {"tenant": r.tenant, "window": r.window, "start": r.start, "end": r.end, "final": r.final,
            "metrics": r.values}
