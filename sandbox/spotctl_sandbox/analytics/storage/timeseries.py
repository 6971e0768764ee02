"""TimeSeriesStorage: InfluxDB 1.x over its HTTP API, line protocol in batches, a bounded spill buffer.

httpx instead of a client library: `influxdb-client` speaks the 2.x API (absent from 1.6), and the
1.x `influxdb` package is synchronous and no longer maintained; the API is two endpoints.

When InfluxDB does not answer, points go to a Redis list (AOF-persisted, shared by restarts) and a
background task replays them in order once it is back; rewriting a point with the same series and
timestamp overwrites it, so a replay after a partial failure never double counts. When the list
holds `spill_max` points the write fails with StorageUnavailable naming InfluxDB (the API answers
503): what was acknowledged is in InfluxDB or in the buffer, never only in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import httpx
import redis.asyncio as aioredis
import redis.exceptions

from spotctl_sandbox.analytics.storage.errors import StorageUnavailable
from spotctl_sandbox.analytics.storage.line_protocol import Point, encode

log = logging.getLogger(__name__)

SPILL_PREFIX = "analytics:influx:spill:"  # + the database: a buffer drains into its own database
WRITE_CHUNK = 5000


class InfluxRejected(ValueError):
    """InfluxDB refused the points themselves (4xx): retrying cannot help."""


class TimeSeriesStorage:
    def __init__(self, url: str, database: str, redis: aioredis.Redis, *, spill_max: int = 200_000,
                 timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.redis = redis
        self.spill_max = spill_max
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout_s)
        self._drainer: asyncio.Task[None] | None = None
        self._ready = False
        self.last_error: str | None = None
        self.spill_key = SPILL_PREFIX + database

    # -- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Create the database (idempotent); a down InfluxDB is retried by the drainer, not fatal."""
        with contextlib.suppress(httpx.HTTPError, StorageUnavailable):
            await self._ensure_database()
        self._drainer = asyncio.create_task(self._drain_forever(), name="influx-drain")

    async def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        await self.http.aclose()

    async def _ensure_database(self) -> None:
        if not self._ready:
            await self.query(f'CREATE DATABASE "{self.database}"')
            self._ready = True

    async def ping(self) -> None:
        resp = await self.http.get("/ping")
        if resp.status_code != 204:
            raise StorageUnavailable("influxdb", f"/ping answered {resp.status_code}")

    # -- writes ----------------------------------------------------------------------------------

    async def write_metric(self, measurement: str, fields: dict[str, Any], tags: dict[str, str] | None = None,
                           timestamp: float | None = None) -> None:
        """The seed's call: one point."""
        await self.write_points([Point(measurement, fields, tags or {}, timestamp)])

    async def write_points(self, points: Iterable[Point]) -> None:
        lines = [encode(p) for p in points]
        if lines:
            await self.write_lines(lines)

    async def write_lines(self, lines: list[str]) -> None:
        """Into InfluxDB, else into the spill buffer (behind what is already waiting there)."""
        try:
            if await self.redis.llen(self.spill_key) == 0:
                await self._post(lines)
                return
        except (httpx.HTTPError, StorageUnavailable) as exc:
            self.last_error = str(exc) or type(exc).__name__
        except redis.exceptions.RedisError as exc:  # no buffer to consult: InfluxDB directly or fail
            try:
                await self._post(lines)
                return
            except (httpx.HTTPError, StorageUnavailable) as influx:
                raise StorageUnavailable("influxdb", f"{influx or type(influx).__name__}; and the spill buffer "
                                         f"in Redis is unreachable ({exc})") from influx
        await self._spill(lines)

    async def _post(self, lines: list[str]) -> None:
        await self._ensure_database()
        for start in range(0, len(lines), WRITE_CHUNK):
            body = "\n".join(lines[start:start + WRITE_CHUNK]).encode()
            resp = await self.http.post("/write", params={"db": self.database, "precision": "ms"}, content=body)
            if resp.status_code == 204:
                continue
            detail = resp.headers.get("X-Influxdb-Error") or resp.text[:200]
            if 400 <= resp.status_code < 500 and resp.status_code != 404:
                raise InfluxRejected(detail)
            raise StorageUnavailable("influxdb", f"write answered {resp.status_code}: {detail}")
        self.last_error = None

    async def _spill(self, lines: list[str]) -> None:
        try:
            waiting = await self.redis.llen(self.spill_key)
            if waiting + len(lines) > self.spill_max:
                raise StorageUnavailable("influxdb", f"unreachable ({self.last_error}) and its buffer is full "
                                         f"({waiting} of {self.spill_max} points waiting)")
            await self.redis.rpush(self.spill_key, *lines)
        except redis.exceptions.RedisError as exc:
            raise StorageUnavailable("influxdb", f"unreachable ({self.last_error}) and the spill buffer in "
                                     f"Redis is unreachable too ({exc})") from exc

    async def buffered(self) -> int:
        return int(await self.redis.llen(self.spill_key))

    async def drain(self, batch: int = WRITE_CHUNK) -> int:
        """Replay buffered points in order; returns how many went out (0 when InfluxDB is still down)."""
        sent = 0
        while True:
            raw = await self.redis.lrange(self.spill_key, 0, batch - 1)
            lines = [x.decode() if isinstance(x, bytes) else x for x in raw]
            if not lines:
                return sent
            try:
                await self._post(lines)
            except InfluxRejected as exc:  # a poisoned point must not block the ones behind it
                log.error("influx drain: dropping %d buffered points InfluxDB rejects: %s", len(lines), exc)
            except (httpx.HTTPError, StorageUnavailable) as exc:
                self.last_error = str(exc) or type(exc).__name__
                return sent
            await self.redis.ltrim(self.spill_key, len(lines), -1)
            sent += len(lines)

    async def _drain_forever(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                await self.drain()
            except redis.exceptions.RedisError as exc:
                log.warning("influx drain: Redis unreachable: %s", exc)
            await asyncio.sleep(interval_s)

    # -- reads -----------------------------------------------------------------------------------

    async def query(self, influxql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the statements' results (each with `series`), raising on errors."""
        data = {"q": influxql, "db": self.database, "epoch": "ms"}
        if params:
            import json

            data["params"] = json.dumps(params)
        try:
            resp = await self.http.post("/query", data=data)
        except httpx.HTTPError as exc:
            raise StorageUnavailable("influxdb", str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise StorageUnavailable("influxdb", f"query answered {resp.status_code}")
        body = resp.json()
        if "error" in body:
            raise InfluxRejected(body["error"])
        results: list[dict[str, Any]] = body.get("results", [])
        for result in results:
            if "error" in result:
                raise InfluxRejected(result["error"])
        return results
