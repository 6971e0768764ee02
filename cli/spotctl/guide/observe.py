"""The I/O edge of verification: read what each store holds now, as plain data for `judge`.

One `Stores` per run holds the clients (opened on first use). Checks that look for something *new*
(Kafka records, mails, pushes) take a baseline before the step's action: Kafka end offsets per
partition (read back without a consumer group: nothing is committed, nobody is rebalanced), and a
timestamp for the sinks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from spotctl.endpoints import Endpoints
from spotctl.guide.model import Check, CheckKind

if TYPE_CHECKING:
    import httpx
    import psycopg
    import redis.asyncio as aredis
    from bullmq import Queue
    from kafka import KafkaConsumer

SINK_SLACK_S = 1.0  # the sinks stamp arrival with their own clock: allow a little skew


class Stores:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self._http: httpx.AsyncClient | None = None
        self._redis: aredis.Redis | None = None
        self._pg: psycopg.AsyncConnection[Any] | None = None
        self._queues: dict[str, Queue] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=15)
        return self._http

    @property
    def redis(self) -> aredis.Redis:
        if self._redis is None:
            import redis.asyncio as aredis

            self._redis = aredis.Redis.from_url(self.endpoints.redis_url, decode_responses=True,
                                                socket_connect_timeout=3)
        return self._redis

    async def pg(self) -> psycopg.AsyncConnection[Any]:
        if self._pg is None or self._pg.closed:
            import psycopg
            from psycopg.rows import dict_row

            self._pg = await psycopg.AsyncConnection.connect(self.endpoints.database_url, autocommit=True,
                                                             connect_timeout=5, row_factory=dict_row)
        return self._pg

    def queue(self, name: str) -> Queue:
        if name not in self._queues:
            from bullmq import Queue

            self._queues[name] = Queue(name, {"connection": self.endpoints.redis_url})
        return self._queues[name]

    async def close(self) -> None:
        for q in self._queues.values():
            await q.close()
        if self._http is not None:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        if self._pg is not None:
            await self._pg.close()


class KafkaWatch:
    """New records of one topic since `start()`: partitions assigned by hand, no group, no commits.

    kafka-python (as `spotctl kafka tail` uses), driven from a thread: its metadata lookups find a
    topic that the action itself created, which then is read from its beginning.
    """

    def __init__(self, bootstrap: str, topic: str, from_beginning: bool = False) -> None:
        self.bootstrap, self.topic, self.from_beginning = bootstrap, topic, from_beginning
        self.records: list[dict[str, Any]] = []
        self._consumer: KafkaConsumer | None = None
        self._assigned: set[int] = set()

    def _start(self) -> None:
        from spotctl.commands.kafka import consumer_client

        self._consumer = consumer_client(self.bootstrap)
        self._assign(at_end=not self.from_beginning)

    def _assign(self, at_end: bool) -> None:
        from kafka import TopicPartition

        assert self._consumer is not None
        found = set(self._consumer.partitions_for_topic(self.topic) or ())
        new = found - self._assigned
        if not new:
            return
        parts = [TopicPartition(self.topic, p) for p in sorted(found)]
        positions = {tp: self._consumer.position(tp) for tp in parts if tp.partition in self._assigned}
        starts = self._consumer.end_offsets(parts) if at_end else self._consumer.beginning_offsets(parts)
        self._consumer.assign(parts)
        for tp in parts:
            self._consumer.seek(tp, positions.get(tp, starts[tp]))
        self._assigned = found

    def _poll(self) -> list[dict[str, Any]]:
        assert self._consumer is not None
        if not self._assigned:
            self._assign(at_end=False)  # created since start(): everything in it is new
            if not self._assigned:
                return self.records
        for records in self._consumer.poll(timeout_ms=300, max_records=500).values():
            for r in records:
                self.records.append({"partition": r.partition, "offset": r.offset, "key": _text(r.key),
                                     "value": _json(_text(r.value)), "timestamp_ms": r.timestamp})
        return self.records

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    async def poll(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._poll)

    async def close(self) -> None:
        if self._consumer is not None:
            await asyncio.to_thread(self._consumer.close)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


class Baseline:
    """What "new" means for a step's checks: taken just before its action runs."""

    def __init__(self) -> None:
        self.since = time.time()
        self.kafka: dict[int, KafkaWatch] = {}  # check index -> its watch

    async def start(self, stores: Stores, checks: tuple[Check, ...]) -> None:
        self.since = time.time()
        for i, check in enumerate(checks):
            if check.kind is CheckKind.kafka:
                watch = KafkaWatch(stores.endpoints.kafka_bootstrap_servers, str(check.spec["topic"]),
                                   from_beginning=not check.since_action)
                self.kafka[i] = watch
                await watch.start()

    async def close(self) -> None:
        for watch in self.kafka.values():
            await watch.close()


async def redis(stores: Stores, spec: Mapping[str, Any]) -> dict[str, Any]:
    r, key = stores.redis, str(spec["key"])
    kind = await r.type(key)
    ttl = await r.ttl(key)
    value: Any = None
    if kind == "string":
        value = await r.get(key)
    elif kind == "list":
        value = await r.lrange(key, 0, 199)
    elif kind == "set":
        value = sorted(await r.smembers(key))
    elif kind == "zset":
        value = list(await r.zrevrange(key, 0, 199))
    elif kind == "hash":
        value = [f"{k}={v}" for k, v in cast(dict[str, str], await r.hgetall(key)).items()]
    return {"key": key, "exists": kind != "none", "type": kind, "ttl": ttl, "value": value}


async def job(stores: Stores, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    from bullmq import Job

    queue = stores.queue(str(spec["queue"]))
    found = await Job.fromId(queue, str(spec["id"]))
    if found is None:
        return None
    state = await queue.getJobState(str(spec["id"]))
    return {"id": found.id, "name": found.name, "state": state, "returnvalue": found.returnvalue,
            "failedReason": found.failedReason or None, "attemptsMade": found.attemptsMade, "data": found.data}


async def postgres(stores: Stores, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    conn = await stores.pg()
    cur = await conn.execute(str(spec["sql"]), tuple(spec.get("params", ())))
    rows = await cur.fetchall() if cur.description else []
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    """Values a template or JSON can carry (dates and decimals as text)."""
    return value if isinstance(value, str | int | float | bool | dict | list) or value is None else str(value)


async def _sink(stores: Stores, path: str, since: float) -> list[dict[str, Any]]:
    resp = await stores.http.get(f"{stores.endpoints.workers_url.rstrip('/')}{path}", params={"limit": 200})
    resp.raise_for_status()
    return [m for m in resp.json().get("messages", []) if float(m.get("received_at", 0)) >= since - SINK_SLACK_S]


async def mail(stores: Stores, since: float) -> list[dict[str, Any]]:
    return await _sink(stores, "/sinks/email", since)


async def push(stores: Stores, since: float) -> list[dict[str, Any]]:
    return await _sink(stores, "/sinks/push", since)


def file(spec: Mapping[str, Any]) -> dict[str, Any]:
    path = Path(str(spec["path"]))
    if not path.is_file():
        return {"path": str(path), "exists": False}
    text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    return {"path": str(path), "exists": True, "size": path.stat().st_size, "text": text}


async def http(stores: Stores, spec: Mapping[str, Any]) -> dict[str, Any]:
    from spotctl.guide.actions import send
    from spotctl.guide.parse import http_request

    return await send(stores, http_request(spec))


async def rabbit(stores: Stores, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    url = f"{stores.endpoints.rabbitmq_mgmt_url.rstrip('/')}/api/queues/%2F/{quote(str(spec['queue']), safe='')}"
    resp = await stores.http.get(url)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    data = resp.json()
    return {"queue": data.get("name"), "consumers": data.get("consumers", 0), "messages": data.get("messages", 0)}


async def observe(stores: Stores, check: Check, spec: Mapping[str, Any], baseline: Baseline, index: int) -> Any:
    """What the store behind `check` holds now (spec already rendered)."""
    match check.kind:
        case CheckKind.redis:
            return await redis(stores, spec)
        case CheckKind.kafka:
            return await baseline.kafka[index].poll()
        case CheckKind.job:
            return await job(stores, spec)
        case CheckKind.postgres:
            return await postgres(stores, spec)
        case CheckKind.mail:
            return await mail(stores, baseline.since if check.since_action else 0.0)
        case CheckKind.push:
            return await push(stores, baseline.since if check.since_action else 0.0)
        case CheckKind.file:
            return file(spec)
        case CheckKind.http:
            return await http(stores, spec)
        case CheckKind.rabbit:
            return await rabbit(stores, spec)
    raise AssertionError(check.kind)
