"""Benchmark (not a test): events/s through the analytics stream processor into InfluxDB, and lag.

    python benchmarks/analytics_stream.py [--rate 50000] [--seconds 30] [--preload 500000]
                                          [--store-events exceptions|all] [--tenants 4] [--users 10000]

Stores come from the environment (KAFKA_BOOTSTRAP_SERVERS, INFLUXDB_URL, DATABASE_URL, REDIS_URL), as
for the services: `eval "$(spotctl config --output env)"` or the variables of a manual stack. The
processor is the service's own code (RealTimeProcessor, StreamWindows, TimeSeriesStorage, the event
store) run in this process on topics of its own (`bench<id>.*`, 3 partitions), with the live view
flushed every 0.5 s; a producer process writes JSON `song_played` events (a few searches and hub
reports mixed in) with ts = the time of sending.

- capacity: `--preload N` events are written first, then the processor is started and timed until it
  has counted them all (catch-up speed: the ceiling, no producer competing for the CPU meanwhile);
- sustained: `--rate R` events/s for `--seconds` while the processor runs; every live flush records
  the lag = (InfluxDB acknowledged the write) - (ts of the newest event it counts). Prints p50/p99/max
  lag, the achieved input and processing rates, and checks InfluxDB holds exactly what was produced.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from typing import Any

import orjson

SOURCES = ("song_played", "search_performed", "playlist_created", "user_registered", "hub_activity")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: export the stack's URLs (spotctl config) first")
    return value


def events(prefix: str, n: int, tenants: int, users: int, seed: int, paced_rate: float | None) -> Any:
    rnd = random.Random(seed)
    for i in range(n):
        roll = rnd.random()
        tenant = f"t{rnd.randrange(tenants)}"
        ts = time.time()
        if roll < 0.9:
            body = {"event_id": f"{prefix}-{seed}-{i}", "ts": ts, "tenant": tenant, "user_id": rnd.randrange(users),
                    "song_id": rnd.randrange(10_000), "artist_id": rnd.randrange(1000)}
            topic = "song_played"
        elif roll < 0.99:
            body = {"event_id": f"{prefix}-{seed}-{i}", "ts": ts, "tenant": tenant, "user_id": rnd.randrange(users),
                    "query": "bench"}
            topic = "search_performed"
        else:
            body = {"event_id": f"{prefix}-{seed}-{i}", "ts": ts * 1000, "tenant": tenant, "worker": 1,
                    "connections": 100, "messages": {"chat": 10, "ping": 5}, "deliveries": 10, "errors": 0}
            topic = "hub_activity"
        yield f"{prefix}.{topic}", orjson.dumps(body)


def produce(prefix: str, n: int, rate: float | None, tenants: int, users: int, seed: int) -> None:
    """A producer process: `n` events, paced at `rate`/s when given (else as fast as it can)."""
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS"), linger_ms=20,
                                    max_batch_size=1 << 20, acks=1)
        await producer.start()
        started = time.perf_counter()
        pending = []
        try:
            for i, (topic, value) in enumerate(events(prefix, n, tenants, users, seed, rate)):
                pending.append(await producer.send(topic, value))
                if rate and i % 500 == 0:
                    ahead = i / rate - (time.perf_counter() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                if len(pending) >= 20_000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    asyncio.run(run())


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.prefix = f"bench{uuid.uuid4().hex[:6]}"
        self.lags: list[float] = []

    async def setup(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=env("KAFKA_BOOTSTRAP_SERVERS"))
        await admin.start()
        await admin.create_topics([NewTopic(f"{self.prefix}.{s}", 3, 1) for s in SOURCES])
        await admin.close()

    def processor(self, redis: Any, pool: Any, influx: Any) -> Any:
        from spotctl_sandbox.analytics.core.state_manager import StateManager
        from spotctl_sandbox.analytics.processing.events import Source
        from spotctl_sandbox.analytics.processing.points import window_points
        from spotctl_sandbox.analytics.processing.realtime import RealTimeProcessor, SongArtists
        from spotctl_sandbox.analytics.processing.windows import StreamWindows
        from spotctl_sandbox.analytics.storage.events import PostgresEventStorage

        windows = StreamWindows(lateness_s=10, idle_s=5)

        async def sink(results: list[Any]) -> None:
            await influx.write_points(window_points(results))

        async def live(results: list[Any]) -> None:
            newest = windows.max_ts
            await influx.write_points(window_points(results))
            if newest is not None:
                self.lags.append(time.time() - newest)

        async def dead(letters: list[Any]) -> None:
            return None

        store = PostgresEventStorage(pool)
        return RealTimeProcessor(
            bootstrap=env("KAFKA_BOOTSTRAP_SERVERS"), group=self.prefix, mode="assign", windows=windows,
            state=StateManager(pool, self.prefix), artists=SongArtists(pool), sink=sink, live=live,
            events=store.store, dead_letters=dead, store_counted=self.args.store_events == "all",
            checkpoint_interval_s=5.0, live_interval_s=0.5,
            topics={f"{self.prefix}.{s}": Source(s) for s in SOURCES})

    def spawn(self, n: int, rate: float | None, seed: int) -> multiprocessing.Process:
        proc = multiprocessing.Process(target=produce, args=(self.prefix, n, rate, self.args.tenants,
                                                             self.args.users, seed))
        proc.start()
        return proc

    async def run(self) -> None:
        import redis.asyncio as aioredis
        from psycopg_pool import AsyncConnectionPool

        from spotctl_sandbox.analytics.core.engine import apply_schema
        from spotctl_sandbox.analytics.storage.timeseries import TimeSeriesStorage

        a = self.args
        await self.setup()
        redis = aioredis.Redis.from_url(env("REDIS_URL"))
        pool = AsyncConnectionPool(env("DATABASE_URL"), min_size=1, max_size=4, open=False,
                                   kwargs={"autocommit": True})
        await pool.open()
        async with pool.connection() as conn:
            await apply_schema(conn)
        influx = TimeSeriesStorage(env("INFLUXDB_URL"), self.prefix, redis, spill_max=10_000_000)
        print(f"box: {os.cpu_count()} cores, load average {os.getloadavg()}, topics {self.prefix}.*, "
              f"store events: {a.store_events}")
        try:
            if a.preload:
                t0 = time.perf_counter()
                await asyncio.to_thread(self.spawn(a.preload, None, 1).join)
                print(f"preload: {a.preload} events produced in {time.perf_counter() - t0:.1f} s")
                proc = self.processor(redis, pool, influx)
                t0 = time.perf_counter()
                await proc.start()
                while proc.stats.counted + proc.stats.duplicate + proc.stats.late < a.preload:
                    await asyncio.sleep(0.05)
                took = time.perf_counter() - t0
                print(f"capacity: {a.preload} events counted in {took:.2f} s = {a.preload / took:,.0f} events/s "
                      f"(catch-up, nothing else producing)")
                await proc.stop()
            if a.seconds:
                self.lags.clear()
                n = int(a.rate * a.seconds)
                proc = self.processor(redis, pool, influx)
                await proc.start()
                await asyncio.sleep(2)  # assigned and seeked
                base = proc.stats.counted
                t0 = time.perf_counter()
                producer = self.spawn(n, a.rate, 2)
                samples = []
                while producer.is_alive():
                    await asyncio.sleep(1)
                    samples.append((time.perf_counter() - t0, proc.stats.counted - base))
                produced_in = time.perf_counter() - t0
                while proc.stats.counted - base < n and time.perf_counter() - t0 < produced_in + 60:
                    await asyncio.sleep(0.1)
                drained = time.perf_counter() - t0
                counted = proc.stats.counted - base
                await asyncio.sleep(1.0)
                await proc.stop()
                steady = self.lags[len(self.lags) // 5:] or self.lags
                q = statistics.quantiles(steady, n=100, method="inclusive") if len(steady) > 1 else [0.0] * 99
                print(f"sustained: asked {a.rate:,.0f}/s for {a.seconds} s; produced {n} in {produced_in:.1f} s "
                      f"({n / produced_in:,.0f}/s); counted {counted} by {drained:.1f} s "
                      f"({counted / drained:,.0f}/s)")
                print(f"lag (event sent -> its count acknowledged by InfluxDB), {len(steady)} flushes: "
                      f"p50 {q[49]:.2f} s, p99 {q[98]:.2f} s, max {max(steady):.2f} s")
                total = await influx.query('SELECT sum("value") FROM "events" WHERE "window" = \'1m\' '
                                           "AND time > now() - 1h")
                rows = total[0].get("series", [{}])[0].get("values", [[0, 0]]) if total else [[0, 0]]
                print(f"InfluxDB 1m windows hold {rows[0][1]:.0f} events (preload included: "
                      f"{n + (a.preload or 0)} produced)")
        finally:
            await influx.query(f'DROP DATABASE "{self.prefix}"')
            await influx.close()
            async with pool.connection() as conn:
                await conn.execute("DELETE FROM analytics_state_panes WHERE consumer = %s", (self.prefix,))
                await conn.execute("DELETE FROM analytics_state WHERE consumer = %s", (self.prefix,))
            await pool.close()
            await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--preload", type=int, default=0)
    parser.add_argument("--store-events", choices=("exceptions", "all"), default="exceptions")
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--users", type=int, default=10_000)
    asyncio.run(Bench(parser.parse_args()).run())


if __name__ == "__main__":
    main()
