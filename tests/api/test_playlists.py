"""Flow 4, playlists: repository insert (MongoDB, or the PostgreSQL JSONB fallback here) -> cache
invalidation of playlists:user:<id> -> Kafka playlist_created; plus the rest of CRUD."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import psycopg
import pytest
from redis.asyncio import Redis

from tests.api.conftest import ApiUser, KafkaProbe, SpawnedApi, free_port, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


def stored(pg: psycopg.Connection, backend: str, playlist_id: str) -> dict[str, object] | None:
    if backend != "postgres-jsonb":
        pytest.skip("assertions on MongoDB documents need a MongoDB (absent on this machine)")
    row = pg.execute("SELECT doc FROM playlists WHERE id = %s", (playlist_id,)).fetchone()
    return None if row is None else dict(row[0])


async def test_create_lands_in_the_store_invalidates_the_cache_and_reaches_kafka(
        http: httpx.AsyncClient, user: ApiUser, redis: Redis, pg: psycopg.Connection, kafka: KafkaProbe) -> None:
    listed = await http.get("/api/playlists", headers=user.auth)
    assert listed.json() == {"items": [], "cached": False, "backend": listed.json()["backend"]}
    assert await redis.exists(f"playlists:user:{user.id}")
    since = await kafka.end_offsets("playlist_created")

    resp = await http.post("/api/playlists", headers=user.auth,
                           json={"name": "Road trip", "description": "loud", "song_ids": [1, 2, 3]})

    assert resp.status_code == 201, resp.text
    playlist = resp.json()
    assert not await redis.exists(f"playlists:user:{user.id}")
    doc = stored(pg, playlist["backend"], playlist["id"])
    assert doc is not None and doc["name"] == "Road trip" and doc["song_ids"] == [1, 2, 3]
    assert doc["user_id"] == user.id
    event = await kafka.find("playlist_created", since, lambda e: e["playlist_id"] == playlist["id"])
    assert event["user_id"] == user.id and event["song_count"] == 3
    again = (await http.get("/api/playlists", headers=user.auth)).json()
    assert [p["id"] for p in again["items"]] == [playlist["id"]] and again["cached"] is False


async def test_update_add_and_delete(http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    created = (await http.post("/api/playlists", headers=user.auth, json={"name": "Focus"})).json()
    pid = created["id"]

    renamed = await http.patch(f"/api/playlists/{pid}", headers=user.auth, json={"name": "Deep focus"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Deep focus"
    added = await http.post(f"/api/playlists/{pid}/songs", headers=user.auth, json={"song_id": 9})
    assert added.json()["song_ids"] == [9]
    doc = stored(pg, created["backend"], pid)
    assert doc is not None and doc["name"] == "Deep focus" and doc["song_ids"] == [9]

    assert (await http.delete(f"/api/playlists/{pid}", headers=user.auth)).status_code == 204
    assert stored(pg, created["backend"], pid) is None
    assert (await http.get(f"/api/playlists/{pid}", headers=user.auth)).status_code == 404


async def test_other_users_cannot_see_or_touch_a_private_one(http: httpx.AsyncClient, user: ApiUser) -> None:
    pid = (await http.post("/api/playlists", headers=user.auth, json={"name": "Mine"})).json()["id"]
    other = await register_and_login(http)
    resp = await http.delete(f"/api/playlists/{pid}", headers=other.auth)
    assert resp.status_code == 404  # a private playlist is not there for others (its id does not leak)
    assert resp.json()["detail"] == f"playlist {pid} not found"
    assert (await http.get(f"/api/playlists/{pid}", headers=user.auth)).status_code == 200


async def test_unknown_songs_and_bad_bodies_are_422(http: httpx.AsyncClient, user: ApiUser) -> None:
    resp = await http.post("/api/playlists", headers=user.auth, json={"name": "x", "song_ids": [1, 999999997]})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "body.song_ids: unknown song ids [999999997]"
    resp = await http.post("/api/playlists", headers=user.auth, json={"name": ""})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body.name"


async def test_an_unreachable_mongodb_falls_back_to_postgres_jsonb(
        spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    api = await spawn_api(MONGO_URL=f"mongodb://127.0.0.1:{free_port()}/spotify")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        assert (await http.get("/health")).json()["playlists_backend"] == "postgres-jsonb"
        user = await register_and_login(http)
        created = await http.post("/api/playlists", headers=user.auth, json={"name": "Fallback"})
        assert created.status_code == 201 and created.json()["backend"] == "postgres-jsonb"
    assert "playlists use PostgreSQL JSONB" in api.log.read_text()
