"""Follows (PostgreSQL, read by the release notifier) and recently played (Redis, else PostgreSQL)."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest
from redis.asyncio import Redis

from tests.api.conftest import ApiUser

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def test_follow_writes_the_follows_row(http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    resp = await http.post("/api/artists/2/follow", headers=user.auth)
    assert resp.json() == {"artist_id": 2, "following": True}
    assert pg.execute("SELECT 1 FROM follows WHERE user_id = %s AND artist_id = 2", (int(user.id),)).fetchone()
    listed = (await http.get("/api/me/following", headers=user.auth)).json()["items"]
    assert [a["artist_id"] for a in listed] == [2]

    await http.delete("/api/artists/2/follow", headers=user.auth)
    assert not pg.execute("SELECT 1 FROM follows WHERE user_id = %s", (int(user.id),)).fetchone()


async def test_following_an_unknown_artist_is_404(http: httpx.AsyncClient, user: ApiUser) -> None:
    resp = await http.post("/api/artists/999999996/follow", headers=user.auth)
    assert resp.status_code == 404 and resp.json()["detail"] == "artist 999999996 not found"


async def test_recently_played_reads_redis_then_falls_back_to_history(
        http: httpx.AsyncClient, user: ApiUser, redis: Redis, pg: psycopg.Connection) -> None:
    pg.execute("INSERT INTO listening_history (user_id, song_id, played_at) VALUES (%s, 4, now())",
               (int(user.id),))
    fallback = (await http.get("/api/me/recently-played", headers=user.auth)).json()
    assert fallback["source"] == "postgres" and [i["song_id"] for i in fallback["items"]] == [4]

    await redis.lpush(f"recent:{user.id}", json.dumps({"song_id": 8, "ts": 1.0}))
    try:
        live = (await http.get("/api/me/recently-played", headers=user.auth)).json()
        assert live == {"source": "redis", "items": [{"song_id": 8, "ts": 1.0}]}
    finally:
        await redis.delete(f"recent:{user.id}")
