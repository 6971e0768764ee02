"""Simulated history into InfluxDB, in the series layout of the analytics engine's windows.

Database `analytics`, one measurement per metric with fields `value` (float) and `final`, tags
`tenant` and `window` = `1m`, the point time the minute's start (see analytics/processing/points.py):
so `spotctl analytics metrics` and the dashboards show simulated history like live traffic. The
points go through the engine's TimeSeriesStorage (line protocol in batches; while InfluxDB is down,
into its bounded Redis spill buffer, which the analytics service replays).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np

from spotctl_sandbox.analytics.ml.features import MINUTE_COLUMNS, MinuteFrame
from spotctl_sandbox.analytics.storage.errors import StorageUnavailable
from spotctl_sandbox.analytics.storage.line_protocol import Point, encode

DATABASE = "analytics"


class InfluxUnavailable(RuntimeError):
    """InfluxDB did not take the points (nor its spill buffer): the message names it and why."""


def lines(frame: MinuteFrame) -> Iterator[str]:
    """Line protocol of every metric of every row."""
    stamps = (frame.minutes.astype("datetime64[s]").astype(np.int64)).tolist()
    tags = [{"tenant": str(t), "window": "1m"} for t in frame.tenants]
    for j, metric in enumerate(MINUTE_COLUMNS):
        for tag, value, stamp in zip(tags, frame.values[:, j].tolist(), stamps, strict=True):
            yield encode(Point(metric, {"value": float(value), "final": True}, tag, float(stamp)))


async def _write(url: str, redis_url: str, batch: list[str], database: str) -> None:
    import redis.asyncio as aioredis

    from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

    redis = aioredis.Redis.from_url(redis_url, socket_connect_timeout=3)
    storage = TimeSeriesStorage(url, database, redis, timeout_s=30)
    try:
        await storage.write_lines(batch)
    finally:
        await storage.close()
        await redis.aclose()


def write_history(url: str, frame: MinuteFrame, redis_url: str, database: str = DATABASE) -> int:
    """Write every point; returns the number of points."""
    batch = list(lines(frame))
    try:
        asyncio.run(_write(url, redis_url, batch, database))
    except StorageUnavailable as exc:
        raise InfluxUnavailable(str(exc)) from exc
    return len(batch)
