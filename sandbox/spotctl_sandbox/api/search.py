"""Flow 5, search: Redis `search:<sha1>` (5 min) -> PostgreSQL full-text over title/artist/album ->
Kafka `search_performed` through the outbox (also for cached answers: the analytics want every
query, and a Kafka outage must not lose them)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Query, Request

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.atomic import atomic
from spotctl_sandbox.api.docs import OPTIONAL_AUTH
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import NO_NUL
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import MaybeUser, Res
from spotctl_sandbox.events import Topic, outbox

router = make_router("/api", tags=["search"], errors=(401,))

SEARCH_TTL_S = 300
_SQL = """
SELECT id, title, artist_id, artist, album_id, album, duration_s, ts_rank(search, q) AS rank
FROM songs, websearch_to_tsquery('english', %s) AS q
WHERE search @@ q
ORDER BY rank DESC, id
LIMIT %s
"""


def normalise(query: str) -> str:
    return " ".join(query.lower().split())


def search_key(query: str, limit: int) -> str:
    return "search:" + hashlib.sha1(f"{limit}:{normalise(query)}".encode()).hexdigest()


@router.get("/search", openapi_extra=OPTIONAL_AUTH)
@atomic
async def search(res: Res, user: MaybeUser, request: Request,
                 q: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL, description="words to find")],
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    query = normalise(q)
    if not query:
        raise ApiError(422, "query.q: must contain a word")
    key = search_key(query, limit)
    cached = await res.redis.get(key)
    metrics.CACHE.labels("search", "hit" if cached else "miss").inc()
    if cached is not None:
        results = json.loads(cached)
    else:
        async with res.pool.connection() as conn:
            cur = await conn.execute(_SQL, (query, limit))
            cols = [d.name for d in cur.description or ()]
            results = [dict(zip(cols, row, strict=True)) for row in await cur.fetchall()]
        for r in results:
            r["rank"] = round(float(r["rank"]), 6)
        await res.redis.set(key, json.dumps(results), ex=SEARCH_TTL_S)
    outbox.emit(outbox.kafka_event(Topic.SEARCH_PERFORMED, {
        "user_id": user.user_id if user else None, "query": query, "results": len(results),
        "cached": cached is not None}, key=user.user_id if user else None))
    return {"query": query, "cached": cached is not None, "count": len(results), "cache_key": key,
            "results": results}
