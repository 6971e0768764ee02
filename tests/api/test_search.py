"""Flow 5, search: Redis search:<sha1> (5 min) -> PostgreSQL full-text -> Kafka search_performed."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest
from redis.asyncio import Redis

from spotctl_sandbox.api.search import search_key
from tests.api.conftest import ApiUser, KafkaProbe

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def test_search_misses_then_hits_the_cache_and_reports_to_kafka(
        http: httpx.AsyncClient, redis: Redis, pg: psycopg.Connection, kafka: KafkaProbe, user: ApiUser) -> None:
    title = pg.execute("SELECT title FROM songs WHERE id = 3").fetchone()[0]  # type: ignore[index]
    query = " ".join(title.split()[-2:])
    await redis.delete(search_key(query, 20))
    since = await kafka.end_offsets("search_performed")

    first = await http.get("/api/search", params={"q": query.upper()}, headers=user.auth)

    assert first.status_code == 200
    body = first.json()
    assert body["cached"] is False and body["count"] >= 1
    assert 3 in [r["id"] for r in body["results"]]
    assert body["cache_key"] == search_key(query, 20)
    assert json.loads(await redis.get(body["cache_key"]) or "[]") == body["results"]
    assert 290 < await redis.ttl(body["cache_key"]) <= 300
    event = await kafka.find("search_performed", since,
                             lambda e: e["query"] == query.lower() and e["user_id"] == user.id)
    assert event["results"] == body["count"] and event["cached"] is False

    second = await http.get("/api/search", params={"q": query})
    assert second.json()["cached"] is True and second.json()["results"] == body["results"]


async def test_search_matches_artist_and_album_too(http: httpx.AsyncClient, pg: psycopg.Connection) -> None:
    artist, album = pg.execute("SELECT artist, album FROM songs WHERE id = 5").fetchone()  # type: ignore[misc]
    for words in (artist, f"{album} {artist}"):  # artist names carry a number, so they are selective
        ids = [r["id"] for r in (await http.get("/api/search", params={"q": words, "limit": 100})).json()["results"]]
        assert 5 in ids, words


async def test_empty_query_is_422_naming_q(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/search", params={"q": ""})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "query.q"
