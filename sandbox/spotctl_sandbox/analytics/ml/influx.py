"""Simulated history into InfluxDB, in the series layout of the analytics engine's windows.

Database `analytics`, one measurement per metric with fields `value` (float) and `final`, tags
`tenant` and `window` = `1m`, the point time the minute's start (see analytics/processing/points.py):
so `spotctl analytics metrics` and the dashboards show simulated history like live traffic. Writes
go in line-protocol batches over HTTP with httpx (the engine's TimeSeriesStorage does the same for
live points, with its Redis spill buffer; a one-off backfill needs no buffer: it fails loudly).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np

from spotctl_sandbox.analytics.ml.features import MINUTE_COLUMNS, MinuteFrame

DATABASE = "analytics"
BATCH_LINES = 5000


class InfluxUnavailable(RuntimeError):
    """InfluxDB did not take the points: the message names it and what it answered."""


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def lines(frame: MinuteFrame) -> Iterator[str]:
    """Line protocol of every metric of every row (timestamps in ms)."""
    stamps = (frame.minutes.astype("datetime64[ms]").astype(np.int64)).tolist()
    tags = [f",tenant={_escape_tag(str(t))},window=1m" for t in frame.tenants]
    for j, metric in enumerate(MINUTE_COLUMNS):
        column = frame.values[:, j].tolist()
        for tag, value, stamp in zip(tags, column, stamps, strict=True):
            yield f"{metric}{tag} value={float(value)!r},final=true {stamp}"


def write_history(url: str, frame: MinuteFrame, database: str = DATABASE, timeout_s: float = 30) -> int:
    """Create the database if needed and write every point; returns the number of points."""
    written = 0
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s) as http:
            resp = http.post("/query", params={"q": f'CREATE DATABASE "{database}"'})
            if resp.status_code != 200:
                raise InfluxUnavailable(f"influxdb at {url}: CREATE DATABASE answered {resp.status_code}")
            batch: list[str] = []
            for line in lines(frame):
                batch.append(line)
                if len(batch) == BATCH_LINES:
                    written += _post(http, url, database, batch)
                    batch = []
            if batch:
                written += _post(http, url, database, batch)
    except httpx.HTTPError as exc:
        raise InfluxUnavailable(f"influxdb at {url} is not reachable ({exc or type(exc).__name__})") from exc
    return written


def _post(http: httpx.Client, url: str, database: str, batch: list[str]) -> int:
    resp = http.post("/write", params={"db": database, "precision": "ms"}, content="\n".join(batch).encode())
    if resp.status_code != 204:
        detail = resp.headers.get("X-Influxdb-Error") or resp.text[:200]
        raise InfluxUnavailable(f"influxdb at {url}: write answered {resp.status_code}: {detail}")
    return len(batch)
