"""BatchProcessor: the feature pipeline as scheduled BullMQ jobs on the `analytics` queue.

- `minute_features` (every minute): the last 15 minutes of final 1 min windows from InfluxDB, plus
  the hub's delivery p99 -> analytics_minute_features. `{"since": epoch, "until": epoch}` rebuilds a
  range (the windows stay in InfluxDB, so a rebuild is a re-read).
- `user_features` (every 15 minutes): 7 days of listening -> analytics_user_features; events older
  than 8 days leave the PostgreSQL event store.
Both are upserts: a retried or repeated job writes the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from typing import Any

import bullmq
import httpx
import orjson
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.processing.features import (
    DROP_STALE_USERS,
    EVENT_RETENTION,
    MINUTE_SERIES,
    UPSERT_MINUTE,
    USER_FEATURES,
    histogram_quantile,
    parse_delivery_buckets,
)
from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

log = logging.getLogger(__name__)

QUEUE = "analytics"
JOB_MINUTES, JOB_USERS = "minute_features", "user_features"
SCHEDULES = {JOB_MINUTES: 60_000, JOB_USERS: 15 * 60_000}
P99_KEY = "analytics:delivery_p99_ms"          # hash: minute epoch -> p99 ms (kept a day)
BUCKETS_KEY = "analytics:delivery_buckets"     # the previous scrape's cumulative buckets
JOB_OPTS = {"attempts": 3, "backoff": {"type": "exponential", "delay": 2000},
            "removeOnComplete": {"count": 200}, "removeOnFail": {"count": 1000}}


class BatchProcessor:
    def __init__(self, *, redis_url: str, redis: aioredis.Redis, pool: AsyncConnectionPool,
                 time_series: TimeSeriesStorage, hub_metrics_url: str | None) -> None:
        self.redis_url, self.redis, self.pool = redis_url, redis, pool
        self.time_series, self.hub_metrics_url = time_series, hub_metrics_url
        self.queue = bullmq.Queue(QUEUE, {"connection": redis_url})
        self._worker: bullmq.Worker | None = None

    async def start(self, schedule: bool = True) -> None:
        if schedule:
            for job, every in SCHEDULES.items():
                await self.queue.upsertJobScheduler(f"analytics-{job}", {"every": every}, job_name=job,
                                                    job_data={}, opts=JOB_OPTS)
        self._worker = bullmq.Worker(QUEUE, self._process, {"connection": self.redis_url, "concurrency": 1,
                                                            "name": "spotctl-analytics-batch"})

    async def close(self) -> None:
        if self._worker is not None:
            await self._worker.close()
        await self.queue.close()

    async def enqueue(self, job: str, data: dict[str, Any] | None = None) -> str:
        added = await self.queue.add(job, data or {}, JOB_OPTS)
        return str(added.id)

    async def _process(self, job: bullmq.Job, token: str) -> Any:
        if job.name == JOB_MINUTES:
            return await self.minute_features(job.data or {})
        if job.name == JOB_USERS:
            return await self.user_features()
        raise bullmq.UnrecoverableError(f"no job {job.name!r} on queue {QUEUE!r}")

    # -- minute features -------------------------------------------------------------------------

    async def scrape_delivery_p99(self, now: float) -> float | None:
        """The hub's delivery p99 (ms) since the previous scrape, remembered for the minute just ended."""
        if not self.hub_metrics_url:
            return None
        try:
            async with httpx.AsyncClient(timeout=3) as http:
                text = (await http.get(self.hub_metrics_url.rstrip("/") + "/metrics")).text
        except httpx.HTTPError as exc:
            log.info("minute features: hub metrics unreachable (%s); delivery p99 unknown", exc)
            return None
        after = parse_delivery_buckets(text)
        raw = await self.redis.get(BUCKETS_KEY)
        await self.redis.set(BUCKETS_KEY, orjson.dumps({str(k): v for k, v in after.items()}))
        if raw is None:
            return None
        before = {float(k): v for k, v in orjson.loads(raw).items()}
        p99 = histogram_quantile(0.99, before, after)
        if p99 is None:  # no delivery since the last scrape: the minute's p99 is unknown (NULL), not 0
            return None
        minute = int(now // 60) * 60 - 60
        await self.redis.hset(P99_KEY, str(minute), p99 * 1000)
        await self.redis.expire(P99_KEY, 86400)
        return p99 * 1000

    async def minute_features(self, data: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        await self.scrape_delivery_p99(now)
        until = float(data.get("until") or now)
        since = float(data.get("since") or until - 15 * 60)
        rows: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
        for series in MINUTE_SERIES:
            results = await self.time_series.query(
                f'SELECT "value" FROM "{series}" WHERE "window" = \'1m\' AND "final" = true '
                f"AND time >= {int(since * 1000)}ms AND time < {int(until * 1000)}ms GROUP BY \"tenant\"")
            for s in results[0].get("series", []) if results else []:
                tenant = s["tags"]["tenant"]
                for ts_ms, value in s["values"]:
                    rows[(tenant, ts_ms // 1000)][series] = int(value)
        p99s = {int(k): float(v) for k, v in (await self.redis.hgetall(P99_KEY)).items()}
        params = [{"tenant": tenant, "minute": dt.datetime.fromtimestamp(minute, dt.UTC),
                   **{s: values.get(s, 0) for s in MINUTE_SERIES}, "delivery_p99_ms": p99s.get(minute)}
                  for (tenant, minute), values in sorted(rows.items())]
        if params:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                await cur.executemany(UPSERT_MINUTE, params)
        return {"rows": len(params), "since": since, "until": until}

    async def delivery_p99_of(self, minute: int) -> float | None:
        value = await self.redis.hget(P99_KEY, str(minute))
        return None if value is None else float(value)

    # -- user features ---------------------------------------------------------------------------

    async def user_features(self, until: dt.datetime | None = None) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        until = until or now
        args = {"since": until - dt.timedelta(days=7), "until": until, "now": now}
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(USER_FEATURES, args)
            written = cur.rowcount
            dropped = (await conn.execute(DROP_STALE_USERS, args)).rowcount
        async with self.pool.connection() as conn:
            expired = (await conn.execute(EVENT_RETENTION, {"now": now})).rowcount
        return {"users": written, "dropped": dropped, "events_expired": expired}
