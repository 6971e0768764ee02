"""The feature pipeline's jobs on real InfluxDB and PostgreSQL: the contract tables the ml side reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.processing.batch import BatchProcessor
from spotctl_sandbox.analytics.processing.features import histogram_quantile
from spotctl_sandbox.analytics.processing.points import window_points
from spotctl_sandbox.analytics.processing.windows import SERIES, WindowResult
from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

T0 = 1_790_000_000 - 1_790_000_000 % 3600


def test_delivery_p99_comes_from_what_the_histogram_gained() -> None:
    before = {0.01: 10.0, 0.1: 10.0, 1.0: 10.0, float("inf"): 10.0}
    after = {0.01: 60.0, 0.1: 109.0, 1.0: 110.0, float("inf"): 110.0}   # 50 fast, 49 medium, 1 slow
    assert histogram_quantile(0.5, before, after) == pytest.approx(0.01)
    assert histogram_quantile(0.99, before, after) == pytest.approx(0.1)
    assert histogram_quantile(0.99, after, after) is None                 # nothing delivered in between


@pytest.fixture
async def batch(env: dict[str, str], redis: aioredis.Redis, pool: AsyncConnectionPool
                ) -> AsyncIterator[tuple[BatchProcessor, TimeSeriesStorage]]:
    influx = TimeSeriesStorage(env["INFLUXDB_URL"], f"f{uuid.uuid4().hex[:8]}", redis)
    b = BatchProcessor(redis_url=env["REDIS_URL"], redis=redis, pool=pool, time_series=influx, hub_metrics_url=None)
    yield b, influx
    await influx.query(f'DROP DATABASE "{influx.database}"')
    await influx.close()
    await b.close()


@pytest.mark.stack
async def test_minute_features_come_from_the_final_minute_windows(
        batch: tuple[BatchProcessor, TimeSeriesStorage], pool: AsyncConnectionPool) -> None:
    processor, influx = batch
    tenant = f"feat-{uuid.uuid4().hex[:6]}"
    base = {s: 0.0 for s in SERIES}
    results = [WindowResult(tenant, "1m", T0 + 60 * i, T0 + 60 * (i + 1),
                            {**base, "plays": 10 + i, "active_users": 3, "searches": 2, "signups": 1, "errors": i,
                             "hub_messages": 7}, {}, {}, {}) for i in range(3)]
    open_minute = WindowResult(tenant, "1m", T0 + 180, T0 + 240, {**base, "plays": 99}, {}, {}, {}, final=False)
    await influx.write_points(window_points([*results, open_minute]))
    done = await processor.minute_features({"since": T0, "until": T0 + 600})
    assert done["rows"] == 3  # the open minute is not a feature row yet
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT extract(epoch FROM minute)::bigint, plays, active_users, searches, signups, errors, hub_messages,"
            " delivery_p99_ms FROM analytics_minute_features WHERE tenant = %s ORDER BY minute", (tenant,))).fetchall()
    assert rows == [(T0 + 60 * i, 10 + i, 3, 2, 1, i, 7, None) for i in range(3)]
    await processor.minute_features({"since": T0, "until": T0 + 600})  # a repeated job writes the same rows
    async with pool.connection() as conn:
        count = await (await conn.execute("SELECT count(*) FROM analytics_minute_features WHERE tenant = %s",
                                          (tenant,))).fetchone()
    assert count == (3,)


@pytest.mark.stack
async def test_user_features_describe_seven_days_of_listening(
        batch: tuple[BatchProcessor, TimeSeriesStorage], pool: AsyncConnectionPool) -> None:
    processor, _ = batch
    tag = uuid.uuid4().hex[:8]
    now = dt.datetime(2026, 6, 13, 12, tzinfo=dt.UTC)  # a Saturday
    async with pool.connection() as conn:
        user = (await (await conn.execute(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, 'f', 'x') RETURNING id",
            (f"feat-{tag}@test.local",))).fetchone() or [0])[0]
        artists = [(await (await conn.execute("INSERT INTO artists (name) VALUES (%s) RETURNING id",
                                              (f"a{i}-{tag}",))).fetchone() or [0])[0] for i in range(2)]
        songs = [(await (await conn.execute(
            "INSERT INTO songs (title, artist_id, artist, duration_s, audio_path) VALUES (%s, %s, 'a', 60, 'x') "
            "RETURNING id", (f"s{i}-{tag}", artists[i % 2]))).fetchone() or [0])[0] for i in range(3)]
        plays: list[tuple[Any, ...]] = [
            (user, songs[0], now - dt.timedelta(hours=9)),             # Saturday 03:00: night and weekend
            (user, songs[1], now - dt.timedelta(days=2)),              # Thursday noon
            (user, songs[2], now - dt.timedelta(days=2, minutes=5)),
            (user, songs[0], now - dt.timedelta(days=3)),              # Wednesday noon
            (user, songs[1], now - dt.timedelta(days=9)),              # outside the 7 days
        ]
        for row in plays:
            await conn.execute("INSERT INTO listening_history (user_id, song_id, played_at) VALUES (%s, %s, %s)", row)
    try:
        await processor.user_features(until=now)
        async with pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT plays_7d, distinct_songs_7d, distinct_artists_7d, night_share, weekend_share, "
                "avg_plays_per_day FROM analytics_user_features WHERE tenant = 'default' AND user_id = %s",
                (user,))).fetchone()
        assert row == (4, 3, 2, 0.25, 0.25, pytest.approx(4 / 7))
    finally:
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM users WHERE id = %s", (user,))
            await conn.execute("DELETE FROM artists WHERE id = ANY(%s)", (artists,))
            await conn.execute("DELETE FROM analytics_user_features WHERE user_id = %s", (user,))


@pytest.mark.stack
async def test_the_user_features_job_leaves_tenants_it_does_not_read_alone(
        batch: tuple[BatchProcessor, TimeSeriesStorage], pool: AsyncConnectionPool) -> None:
    processor, _ = batch
    tenant = f"sim-{uuid.uuid4().hex[:8]}"  # as `spotctl analytics simulate` writes them: no events behind
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO analytics_user_features (tenant, user_id, plays_7d, distinct_songs_7d, "
                           "distinct_artists_7d, night_share, weekend_share, avg_plays_per_day, updated_at) "
                           "VALUES (%s, 1, 7, 3, 2, 0, 0, 1, now() - interval '2 days')", (tenant,))
    try:
        await processor.user_features()
        async with pool.connection() as conn:
            kept = await (await conn.execute("SELECT plays_7d FROM analytics_user_features WHERE tenant = %s",
                                             (tenant,))).fetchall()
        assert kept == [(7,)]
    finally:
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM analytics_user_features WHERE tenant = %s", (tenant,))


@pytest.mark.stack
async def test_the_user_features_job_expires_events_older_than_eight_days(
        batch: tuple[BatchProcessor, TimeSeriesStorage], pool: AsyncConnectionPool) -> None:
    from spotctl_sandbox.analytics.storage.events import PostgresEventStorage, StoredEvent

    processor, _ = batch
    tag = uuid.uuid4().hex[:8]
    now = dt.datetime.now(dt.UTC).timestamp()
    await PostgresEventStorage(pool).store([
        StoredEvent(f"old-{tag}", "song_played", "late", "default", now - 9 * 86400, {}),
        StoredEvent(f"new-{tag}", "song_played", "late", "default", now - 7 * 86400, {})])
    done = await processor.user_features()
    assert done["events_expired"] >= 1
    async with pool.connection() as conn:
        left = await (await conn.execute("SELECT event_id FROM analytics_events WHERE event_id LIKE %s",
                                         (f"%-{tag}",))).fetchall()
    assert left == [(f"new-{tag}",)]
