"""StorageManager: the seed's one handle on every back-end, and the health of each.

`health()` asks every back-end at once with a deadline; the answer names the active event store
and the points waiting in InfluxDB's spill buffer, so `/health` (and `spotctl ps`) tell the truth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.storage.cache import CacheStorage
from spotctl_sandbox.analytics.storage.events import (
    ElasticsearchEventStorage,
    EventStorage,
    PostgresEventStorage,
)
from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

CHECK_TIMEOUT_S = 1.5


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S} s"}
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"ok": False, "error": text}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


class StorageManager:
    def __init__(self, *, influx_url: str, influx_db: str, redis: aioredis.Redis, pool: AsyncConnectionPool,
                 elasticsearch_url: str | None, spill_max: int) -> None:
        self.pool = pool
        self.time_series = TimeSeriesStorage(influx_url, influx_db, redis, spill_max=spill_max)
        self.event: EventStorage = (ElasticsearchEventStorage(elasticsearch_url) if elasticsearch_url
                                    else PostgresEventStorage(pool))
        self.cache = CacheStorage(redis)

    async def connect_all(self) -> None:
        await self.time_series.connect()

    async def close(self) -> None:
        await self.time_series.close()
        await self.event.close()

    async def _postgres(self) -> None:
        async with self.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
            await conn.execute("SELECT 1")

    async def health(self) -> dict[str, Any]:
        probes: dict[str, Callable[[], Awaitable[Any]]] = {
            "influxdb": self.time_series.ping, "redis": self.cache.ping, "postgres": self._postgres,
        }
        if self.event.backend.value not in probes:
            probes[self.event.backend.value] = self.event.ping
        results = await asyncio.gather(*(_check(p) for p in probes.values()))
        out = dict(zip(probes, results, strict=True))
        try:
            out["influxdb"]["buffered_points"] = await self.time_series.buffered()
        except Exception:  # Redis down: its own entry says so
            pass
        return out
