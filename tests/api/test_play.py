"""Flow 1, play: JWT -> cache-aside metadata (song:<id>, hit/miss counters) -> signed stream URL ->
Kafka song_played and BullMQ update_recently_played (through the outbox) -> trending:songs."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from tests.api.conftest import ApiUser, KafkaProbe, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]

SONG = 7


async def test_song_metadata_is_cache_aside_with_hit_and_miss_counters(http: httpx.AsyncClient,
                                                                       redis: Redis) -> None:
    await redis.delete(f"song:{SONG}")
    misses, hits = int(await redis.get("stats:cache:miss") or 0), int(await redis.get("stats:cache:hit") or 0)

    first = await http.get(f"/api/songs/{SONG}")
    assert first.status_code == 200 and first.json()["cached"] is False
    assert int(await redis.get("stats:cache:miss") or 0) >= misses + 1
    cached = json.loads(await redis.get(f"song:{SONG}") or "{}")
    assert cached["id"] == SONG and cached["title"] == first.json()["title"]
    assert 3500 < await redis.ttl(f"song:{SONG}") <= 3600

    second = await http.get(f"/api/songs/{SONG}")
    assert second.json()["cached"] is True
    assert int(await redis.get("stats:cache:hit") or 0) >= hits + 1
    assert "audio_path" not in second.json()


async def test_unknown_song_is_404(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/songs/999999998")
    assert resp.status_code == 404
    assert resp.json()["detail"] == "song 999999998 not found"


async def test_non_numeric_song_id_is_422_naming_it(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/songs/abc")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "path.song_id"


async def test_play_needs_a_token(http: httpx.AsyncClient) -> None:
    assert (await http.post(f"/api/songs/{SONG}/play")).status_code == 401


async def test_play_lands_in_kafka_bullmq_and_trending(http: httpx.AsyncClient, user: ApiUser, redis: Redis,
                                                      kafka: KafkaProbe) -> None:
    before = float(await redis.zscore("trending:songs", str(SONG)) or 0)
    since = await kafka.end_offsets("song_played")

    resp = await http.post(f"/api/songs/{SONG}/play", headers=user.auth)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["song"]["id"] == SONG
    assert body["stream_path"].startswith(f"/stream/{SONG}?expires=")
    event = await kafka.find("song_played", since, lambda e: e.get("event_id") == body["event"]["event_id"])
    assert event["user_id"] == user.id and event["song_id"] == SONG and isinstance(event["ts"], float)
    assert len(event["event_id"]) == 32
    job_key = f"bull:recently-played:{body['job']['id']}"
    await wait_for(lambda: redis.exists(job_key), what="the job's arrival in Redis")
    job = await redis.hgetall(job_key)
    assert job["name"] == "update_recently_played"
    request_id = resp.headers["X-Request-ID"]  # carried by what the request produced (docs/observability.md)
    assert event["correlation_id"] == request_id
    assert json.loads(job["data"]) == {"user_id": user.id, "song_id": SONG, "ts": event["ts"],
                                       "correlation_id": request_id}
    assert float(await redis.zscore("trending:songs", str(SONG)) or 0) >= before + 1


async def test_the_seed_spelling_of_flow_1_is_the_same_endpoint(http: httpx.AsyncClient, user: ApiUser) -> None:
    resp = await http.get(f"/api/songs/{SONG}/stream", headers=user.auth)
    assert resp.status_code == 200
    assert resp.json()["job"]["name"] == "update_recently_played"


async def test_trending_lists_songs_by_plays(http: httpx.AsyncClient, user: ApiUser) -> None:
    for _ in range(3):
        await http.post(f"/api/songs/{SONG}/play", headers=user.auth)
    items = (await http.get("/api/trending", params={"limit": 100})).json()["items"]
    mine = next(i for i in items if i["song_id"] == SONG)
    assert mine["plays"] >= 3 and mine["title"] != "?"
    assert [i["plays"] for i in items] == sorted((i["plays"] for i in items), reverse=True)
