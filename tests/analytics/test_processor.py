"""The real-time processor on real Kafka, InfluxDB, PostgreSQL and Redis: exact windows, late,
duplicate and malformed events, and a crash mid-stream that neither loses nor double counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.core.event_bus import EventBus
from spotctl_sandbox.analytics.core.state_manager import StateManager
from spotctl_sandbox.analytics.processing import realtime
from spotctl_sandbox.analytics.processing.events import DEAD_LETTER_TOPIC, Source
from spotctl_sandbox.analytics.processing.points import window_points
from spotctl_sandbox.analytics.processing.realtime import RealTimeProcessor, SongArtists
from spotctl_sandbox.analytics.processing.windows import StreamWindows, WindowResult
from spotctl_sandbox.analytics.storage.events import PostgresEventStorage
from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage
from tests.support.throwaway import Throwaway, tansu

from .conftest import eventually, free_port, make_topics, produce

pytestmark = pytest.mark.stack
HOUR = 3600
T0 = (int(time.time()) // HOUR - 3) * HOUR  # an hour boundary three hours ago: the stream is a replay


def ev(n: int, ts: float, topic: str = "song_played", **fields: Any) -> tuple[str, bytes]:
    body = {"event_id": f"e{n}", "ts": ts, **fields}
    return topic, json.dumps(body).encode()


class Rig:
    """A processor reading `<prefix>.<topic>` into an InfluxDB database of the test's own."""

    def __init__(self, env: dict[str, str], redis: aioredis.Redis, pool: AsyncConnectionPool, prefix: str) -> None:
        self.env, self.prefix, self.pool = env, prefix, pool
        self.influx = TimeSeriesStorage(env["INFLUXDB_URL"], prefix, redis)
        self.events = PostgresEventStorage(pool)
        self.bus = EventBus(env["KAFKA_BOOTSTRAP_SERVERS"], redis, env["REDIS_URL"])
        self.state = StateManager(pool, prefix)
        self.topics = {f"{prefix}.{s.value}": s for s in Source}

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def processor(self, bootstrap: str | None = None, mode: str = "assign", group: str | None = None,
                  checkpoint_interval_s: float = 3600, lateness_s: float = 10) -> RealTimeProcessor:
        async def sink(results: list[WindowResult]) -> None:
            await self.influx.write_points(window_points(results))

        async def live(results: list[WindowResult]) -> None:
            return None

        return RealTimeProcessor(
            bootstrap=bootstrap or self.env["KAFKA_BOOTSTRAP_SERVERS"], group=group or self.prefix, mode=mode,
            windows=StreamWindows(lateness_s=lateness_s, idle_s=1), state=self.state, artists=SongArtists(self.pool),
            sink=sink, live=live, events=self.events.store, dead_letters=self.bus.dead_letters, store_counted=True,
            checkpoint_interval_s=checkpoint_interval_s, topics=self.topics)

    async def series(self, measurement: str, tenant: str, window: str, by: str | None = None) -> dict[Any, float]:
        group = f' GROUP BY "{by}"' if by else ""
        results = await self.influx.query(
            f"SELECT \"value\" FROM \"{measurement}\" WHERE \"tenant\" = '{tenant}' AND \"window\" = '{window}' "
            f"AND time >= {T0 - HOUR}s AND time < {T0 + 3 * HOUR}s{group}")
        out: dict[Any, float] = {}
        for s in results[0].get("series", []):
            tag = next(iter(s.get("tags", {}).values()), None)
            for ts_ms, value in s["values"]:
                out[(ts_ms // 1000 - T0, tag) if tag else ts_ms // 1000 - T0] = value
        return out


@pytest.fixture
async def rig(env: dict[str, str], redis: aioredis.Redis, pool: AsyncConnectionPool, prefix: str
              ) -> AsyncIterator[Rig]:
    r = Rig(env, redis, pool, prefix)
    await make_topics(env["KAFKA_BOOTSTRAP_SERVERS"], list(r.topics))
    yield r
    await r.bus.close()
    await r.influx.query(f'DROP DATABASE "{prefix}"')
    await r.influx.close()


async def run_until(processor: RealTimeProcessor, emitted_until: int, what: str) -> None:
    await eventually(lambda: _at(processor, emitted_until), timeout=30, what=what)


async def _at(processor: RealTimeProcessor, emitted_until: int) -> bool:
    return processor.windows.emitted_until >= emitted_until


async def test_windows_are_exact_and_late_duplicate_malformed_events_are_accounted(rig: Rig) -> None:
    tenant = f"acme-{rig.prefix}"
    plays = rig.topic("song_played")
    first = [
        ev(1, T0 + 1, plays, tenant=tenant, user_id="1", song_id="10", artist_id="100"),
        ev(2, T0 + 20, plays, tenant=tenant, user_id="2", song_id="10", artist_id="100"),
        ev(2, T0 + 20, plays, tenant=tenant, user_id="2", song_id="10", artist_id="100"),   # duplicate id
        ev(3, T0 + 40, rig.topic("search_performed"), tenant=tenant, user_id=None, query="x"),
        ev(4, T0 + 50, rig.topic("user_registered"), tenant=tenant, user_id="3"),
        ev(6, T0 + 70, plays, tenant=tenant, user_id="1", song_id="11", artist_id="101"),
        ev(5, T0 + 65, plays, tenant=tenant, user_id="3", song_id="11", artist_id="100"),   # 5 s out of order
        (plays, b'{"event_id": "e8", "ts": "yesterday"}'),                                   # malformed
        (plays, b"not json at all"),                                                         # malformed
        ev(9, T0 + 150, rig.topic("hub_activity"), tenant=tenant, worker=1, connections=5,
           messages={"chat": 4}, deliveries=4, errors=1),
    ]
    bootstrap = rig.env["KAFKA_BOOTSTRAP_SERVERS"]
    await produce(bootstrap, first)
    processor = rig.processor()
    await processor.start()
    try:
        await eventually(lambda: _watermark_past(processor, T0 + 20), what="the watermark to pass T0+20")
        await produce(bootstrap, [
            ev(7, T0 + 5, plays, tenant=tenant, user_id="9", song_id="12", artist_id="102"),  # late
            ev(10, T0 + HOUR + 11, plays, tenant="flush", user_id="1", song_id="10"),        # closes the hour
        ])
        await run_until(processor, T0 + HOUR, "the hour to close")
    finally:
        await processor.stop()

    assert await rig.series("plays", tenant, "1m") == {0: 2, 60: 2} | {m * 60: 0 for m in range(2, 60)}
    assert (await rig.series("plays", tenant, "5m"))[0] == 4
    assert await rig.series("plays", tenant, "1h") == {0: 4}
    assert (await rig.series("active_users", tenant, "1m"))[0] == 3       # users 1, 2 and 3 (signed up)
    assert (await rig.series("active_users", tenant, "5m"))[0] == 3
    assert (await rig.series("searches", tenant, "1m"))[0] == 1
    assert (await rig.series("signups", tenant, "1m"))[0] == 1
    assert (await rig.series("hub_messages", tenant, "1m"))[120] == 4
    assert (await rig.series("errors", tenant, "1h"))[0] == 1
    assert (await rig.series("late", tenant, "1h"))[0] == 1
    assert (await rig.series("duplicates", tenant, "1h"))[0] == 1
    assert await rig.series("song_plays", tenant, "1h", by="song_id") == {(0, "10"): 2, (0, "11"): 2}
    assert await rig.series("artist_plays", tenant, "5m", by="artist_id") == {(0, "100"): 3, (0, "101"): 1}
    sliding = await rig.series("plays", tenant, "5m-sliding")               # keyed by window start
    assert (sliding[-240], sliding[-180], sliding[0], sliding[60]) == (2, 4, 4, 2)
    assert processor.stats.malformed == 2

    recorded = await rig.events.search_events("", _hours(4), tenant=tenant, limit=50)
    assert sorted((e["event_id"], e["status"]) for e in recorded if e["status"] != "counted") == [
        ("e2", "duplicate"), ("e7", "late")]
    letters = await _dead_letters(rig.env["KAFKA_BOOTSTRAP_SERVERS"], plays)
    assert sorted(d["reason"] for d in letters)[0].startswith("'ts' must be an epoch number")
    assert any(d["reason"].startswith("not JSON") and d["value"] == "not json at all" for d in letters)


def _hours(n: int) -> Any:
    import datetime as dt

    return dt.timedelta(hours=n + 1) + dt.timedelta(seconds=time.time() - T0)


async def _dead_letters(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(DEAD_LETTER_TOPIC, p) for p in consumer.partitions_for_topic(DEAD_LETTER_TOPIC) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(found) < 2:
            batch = await consumer.getmany(timeout_ms=300)
            found += [d for r in (x for rs in batch.values() for x in rs)
                      if (d := json.loads(r.value))["topic"] == topic]
        return found
    finally:
        await consumer.stop()


async def test_a_crash_mid_stream_resumes_from_the_checkpoint_without_double_counting(rig: Rig) -> None:
    tenant = f"crash-{rig.prefix}"
    plays = rig.topic("song_played")
    first = [ev(i, T0 + i % 180, plays, tenant=tenant, user_id=str(i % 7), song_id=str(i % 5)) for i in range(100)]
    second = [ev(i, T0 + 180 + i % 60, plays, tenant=tenant, user_id=str(i % 7), song_id=str(i % 5))
              for i in range(100, 200)]
    bootstrap = rig.env["KAFKA_BOOTSTRAP_SERVERS"]

    a = rig.processor()
    await produce(bootstrap, first)
    await a.start()
    await eventually(lambda: _consumed(a, plays, 100), what="the first half")
    await a.checkpoint()                       # state and offsets of the first 100 events
    await produce(bootstrap, second)
    await eventually(lambda: _consumed(a, plays, 200), what="the second half")
    assert a._task is not None
    a._task.cancel()                           # a crash: the second half was counted, never checkpointed
    await asyncio.gather(a._task, return_exceptions=True)

    b = rig.processor()                        # a new process: restores the checkpoint, re-reads the rest
    await produce(bootstrap, [ev(999, T0 + HOUR + 11, plays, tenant="flush", user_id="1", song_id="1")])
    await b.start()
    try:
        await run_until(b, T0 + HOUR, "the hour to close after the restart")
    finally:
        await b.stop()
    assert await rig.series("plays", tenant, "1h") == {0: 200}
    assert sum((await rig.series("plays", tenant, "1m")).values()) == 200
    assert b.stats.counted == 100 + 1          # only what came after the checkpoint, plus the flush
    assert b.stats.duplicate == 0              # it resumed at the checkpoint's offsets: nothing was re-read


async def _watermark_past(p: RealTimeProcessor, ts: float) -> bool:
    return p.windows.watermark > ts


async def _consumed(p: RealTimeProcessor, topic: str, n: int) -> bool:
    return p.positions.get(f"{topic}:0", 0) >= n


@pytest.mark.parametrize(("before", "after", "settle_s", "watch_s"), [(5, 2, 5, 2), (2, 5, 5, 2), (5, 10, 0, 60)],
                         ids=["past-the-new-end", "inside-the-new-log", "refilled-before-the-watch-looks"])
async def test_every_event_after_a_kafka_restart_is_counted_wherever_the_old_offsets_lie(
        rig: Rig, throwaways: list[Throwaway], monkeypatch: pytest.MonkeyPatch, before: int, after: int,
        settle_s: float, watch_s: float) -> None:
    """tansu forgets its log when it restarts, but the engine's positions (its checkpoint's, and the
    group's committed offsets) are the old log's: after `before` signups read and committed, the new
    log's `after` signups lie before the old offset (the engine waited for the new log to pass it,
    counting none) or start before it (the first ones skipped) unless it reads a lost log from the
    beginning. The new log is written `settle_s` after the broker answers: at once, with the engine's
    watch looking every `watch_s` (2 s in the stack), it is past the old offset before the watch could
    see an end short of it, so only the record at the old offset - 1, no longer the one the engine
    read, tells the loss. A broker of the test's own."""
    monkeypatch.setattr(realtime, "WATCH_S", watch_s)
    port = free_port()
    bootstrap, kafka = f"127.0.0.1:{port}", tansu(port)
    throwaways.append(kafka)
    signups, tenant = rig.topic("user_registered"), f"restart-{rig.prefix}"
    now = time.time()
    kafka.start()
    await _topics_once_up(bootstrap, list(rig.topics))
    await produce(bootstrap, [ev(i, now, signups, tenant=tenant, user_id=str(i)) for i in range(before)], singly=True)
    # the group's rejoin after the restart may take longer than a lateness of 10 s: none is late here
    processor = rig.processor(bootstrap, mode="group", group="analytics-engine", checkpoint_interval_s=0.5,
                              lateness_s=HOUR)
    await processor.start()
    try:
        await eventually(lambda: _consumed(processor, signups, before), timeout=90, what="the group's first read")
        await eventually(lambda: _committed(bootstrap, signups, before), timeout=10, what="the group's commit")
        kafka.stop()
        kafka.start()  # the same port, an empty log
        await _topics_once_up(bootstrap, list(rig.topics))
        await asyncio.sleep(settle_s)
        # all on partition 0, where the old offset lies: the consumer's metadata requests may have
        # had the broker auto-create the topic with more partitions than it had
        await produce(bootstrap, [ev(i, time.time(), signups, tenant=tenant, user_id=str(i))  # not late
                                  for i in range(100, 100 + after)], 0, singly=True)
        with contextlib.suppress(pytest.fail.Exception):  # the assertions below say what was counted
            await eventually(lambda: _counted(processor, before + after), timeout=60, what="the new log's signups")
    finally:
        await processor.stop()
    assert (processor.stats.counted, processor.stats.duplicate) == (before + after, 0), processor.stats
    assert processor.positions[f"{signups}:0"] == after, processor.positions


async def test_an_engine_started_after_a_kafka_restart_reads_the_new_log_from_its_beginning(
        rig: Rig, throwaways: list[Throwaway], monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine stopped before tansu restarted resumes from its checkpoint: offset 5 of the old log.
    The new log holds 10 records by the time it starts, so no offset looks wrong; only the record at
    offset 4, no longer the one the checkpoint says it read, tells that the log it resumes is not the
    one it checkpointed (its first five records would be skipped). The watch looks once a minute here:
    no end short of an offset could tell it anyway."""
    monkeypatch.setattr(realtime, "WATCH_S", 60)
    port = free_port()
    bootstrap, kafka = f"127.0.0.1:{port}", tansu(port)
    throwaways.append(kafka)
    signups, tenant = rig.topic("user_registered"), f"restarted-{rig.prefix}"
    now = time.time()
    kafka.start()
    await _topics_once_up(bootstrap, list(rig.topics))
    await produce(bootstrap, [ev(i, now, signups, tenant=tenant, user_id=str(i)) for i in range(5)], singly=True)
    first = rig.processor(bootstrap, mode="group", group="analytics-engine", lateness_s=HOUR)
    await first.start()
    try:
        await eventually(lambda: _consumed(first, signups, 5), timeout=90, what="the first engine's read")
    finally:
        await first.stop()  # checkpoints offset 5
    kafka.stop()
    kafka.start()
    await _topics_once_up(bootstrap, list(rig.topics))
    await produce(bootstrap, [ev(i, time.time(), signups, tenant=tenant, user_id=str(i)) for i in range(100, 110)],
                  0, singly=True)
    second = rig.processor(bootstrap, mode="group", group="analytics-engine", lateness_s=HOUR)
    await second.start()
    try:
        with contextlib.suppress(pytest.fail.Exception):
            await eventually(lambda: _counted(second, 10), timeout=60, what="the new log's signups")
        await asyncio.sleep(3)  # and nothing more
    finally:
        await second.stop()
    assert (second.stats.counted, second.stats.duplicate) == (10, 0), second.stats
    assert second.positions[f"{signups}:0"] == 10, second.positions


async def _topics_once_up(bootstrap: str, topics: list[str]) -> None:
    """The topics made as soon as the (re)started broker answers, as the stack's producers would."""
    async def made() -> bool:
        try:
            await make_topics(bootstrap, topics)
        except (KafkaError, OSError):
            return False
        return True

    await eventually(made, timeout=30, what="the broker to answer")


async def _committed(bootstrap: str, topic: str, offset: int) -> bool:
    """The group's committed offset, read as a member would (OffsetFetch) without joining it."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="analytics-engine", enable_auto_commit=False)
    await reader.start()
    try:
        return await reader.committed(TopicPartition(topic, 0)) == offset
    finally:
        await reader.stop()


async def _counted(p: RealTimeProcessor, n: int) -> bool:
    return p.stats.counted >= n
