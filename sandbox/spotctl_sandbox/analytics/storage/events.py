"""EventStorage: stream events, dead letters and alert events, searchable by text over a time range.

Two back-ends behind one interface: Elasticsearch when ELASTICSEARCH_URL is set (the docker runtime
runs it), else PostgreSQL JSONB with a generated `tsvector` and a GIN index (the local runtime has no
Elasticsearch). `backend` says which is active; `/health` and `spotctl ps` show it. Writes are
idempotent on (kind, event_id, status), so a replay after a restart stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool


class Backend(StrEnum):
    POSTGRES = "postgres"
    ELASTICSEARCH = "elasticsearch"


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    kind: str      # topic, "alert" or "dead_letter"
    status: str    # counted | late | duplicate | malformed | firing | resolved
    tenant: str
    ts: float      # epoch seconds
    body: dict[str, Any]


class EventStorage(Protocol):
    backend: Backend

    async def store(self, events: list[StoredEvent]) -> None: ...
    async def search_events(self, query: str, time_range: dt.timedelta, *, tenant: str | None = None,
                            kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


INSERT_SQL = """
INSERT INTO analytics_events (event_id, kind, status, tenant, ts, body)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::jsonb[])
ON CONFLICT (kind, event_id, status) DO NOTHING
"""
SEARCH_SQL = """
SELECT event_id, kind, status, tenant, extract(epoch FROM ts) AS ts, body FROM analytics_events
WHERE ts >= now() - %(range)s AND (%(q)s = '' OR search @@ websearch_to_tsquery('simple', %(q)s))
  AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s) AND (%(kind)s::text IS NULL OR kind = %(kind)s)
ORDER BY ts DESC LIMIT %(limit)s
"""


class PostgresEventStorage:
    backend = Backend.POSTGRES

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def store(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        cols: tuple[list[Any], ...] = ([], [], [], [], [], [])
        for e in events:
            for col, value in zip(cols, (e.event_id, e.kind, e.status, e.tenant,
                                         dt.datetime.fromtimestamp(e.ts, dt.UTC), Jsonb(e.body)), strict=True):
                col.append(value)
        async with self.pool.connection() as conn:
            await conn.execute(INSERT_SQL, cols)

    async def search_events(self, query: str, time_range: dt.timedelta, *, tenant: str | None = None,
                            kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(SEARCH_SQL, {"q": query.strip(), "range": time_range, "tenant": tenant,
                                                  "kind": kind, "limit": limit})
            rows = await cur.fetchall()
        return [{"event_id": r[0], "kind": r[1], "status": r[2], "tenant": r[3], "ts": float(r[4]),
                 "body": r[5]} for r in rows]

    async def ping(self) -> None:
        async with self.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1 FROM analytics_events LIMIT 1")

    async def close(self) -> None:
        return None


INDEX = "analytics-events"


class ElasticsearchEventStorage:
    """The seed's Elasticsearch, through its official async client (imported only when configured)."""

    backend = Backend.ELASTICSEARCH

    def __init__(self, url: str) -> None:
        from elasticsearch import AsyncElasticsearch

        self.client = AsyncElasticsearch(url, request_timeout=5)

    async def store(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        operations: list[dict[str, Any]] = []
        for e in events:
            doc_id = f"{e.kind}:{e.status}:{e.event_id}"  # the same event stored twice is one document
            operations.append({"index": {"_index": INDEX, "_id": doc_id}})
            operations.append({"event_id": e.event_id, "kind": e.kind, "status": e.status, "tenant": e.tenant,
                               "ts": int(e.ts * 1000), "body": e.body})
        resp = await self.client.bulk(operations=operations)
        if resp.get("errors"):
            first = next(i for i in resp["items"] if "error" in i.get("index", {}))
            raise RuntimeError(f"elasticsearch rejected events: {first['index']['error']}")

    async def search_events(self, query: str, time_range: dt.timedelta, *, tenant: str | None = None,
                            kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        since = int((dt.datetime.now(dt.UTC) - time_range).timestamp() * 1000)
        filters: list[dict[str, Any]] = [{"range": {"ts": {"gte": since}}}]
        filters += [{"term": {k: v}} for k, v in (("tenant", tenant), ("kind", kind)) if v]
        must = [{"simple_query_string": {"query": query}}] if query.strip() else []
        resp = await self.client.search(index=INDEX, size=limit, sort=[{"ts": "desc"}],
                                        query={"bool": {"filter": filters, "must": must}},
                                        ignore_unavailable=True)
        return [{**hit["_source"], "ts": hit["_source"]["ts"] / 1000} for hit in resp["hits"]["hits"]]

    async def ping(self) -> None:
        if not await self.client.ping():
            raise RuntimeError("elasticsearch did not answer ping")

    async def close(self) -> None:
        await self.client.close()
