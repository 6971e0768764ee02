"""The flows end to end: the API produces, the workers consume, each store holds the outcome."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from bullmq import Job, Queue

from spotctl_sandbox import contract
from spotctl_sandbox.common import tokens
from tests.workers.conftest import Catalogue, eventually

# The development JWT secret is shorter than PyJWT's recommended 32 bytes.
pytestmark = [pytest.mark.stack, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]


@pytest.fixture(scope="module")
def api_env(stack: Any, env: dict[str, str]) -> dict[str, str]:
    stack.up("api")
    return dict(stack.env)


@pytest.fixture
async def api(api_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_env["API_URL"], timeout=15) as client:
        yield client


async def login(redis: aioredis.Redis, env: dict[str, str], user_id: int,
                roles: tuple[str, ...] = ("user",)) -> dict[str, str]:
    token = await tokens.issue(redis, env["JWT_SECRET"], str(user_id), "tester", roles=roles)
    return {"Authorization": f"Bearer {token}"}


async def test_play_through_the_api(api: httpx.AsyncClient, api_env: dict[str, str], catalogue: Catalogue,
                                    redis: aioredis.Redis) -> None:
    user, _ = await catalogue.user()
    song = await catalogue.song(await catalogue.artist(), "Played via API")
    resp = await api.post(f"/api/songs/{song}/play", headers=await login(redis, api_env, user))
    assert resp.status_code == 200, resp.text
    queue = Queue(resp.json()["job"]["queue"], {"connection": api_env["REDIS_URL"]})

    async def completed() -> Job | None:
        job = await Job.fromId(queue, resp.json()["job"]["id"])
        return job if job is not None and job.finishedOn else None

    job = await eventually(completed, 20, "the update_recently_played job")
    assert await queue.getJobState(job.id) == "completed"
    await queue.close()
    assert [json.loads(i)["song_id"] for i in await redis.lrange(f"recent:{user}", 0, -1)] == [song]
    recent = (await api.get("/api/me/recently-played", headers=await login(redis, api_env, user))).json()
    assert recent["source"] == "redis" and recent["items"][0]["song_id"] == song
    rows = await (await catalogue.conn.execute(
        "SELECT count(*) FROM listening_history WHERE user_id = %s AND song_id = %s", (user, song))).fetchone()
    assert rows == (1,)

    async def counted() -> bool:  # the Kafka `song_played` event reached the analytics group
        row = await (await catalogue.conn.execute("SELECT play_count FROM songs WHERE id = %s",
                                                  (song,))).fetchone()
        return row == (1,)

    await eventually(counted, 60, "the analytics group to count the play")
    await redis.delete(f"recent:{user}", contract.recent_at_key(user))


async def test_recommendations_through_the_api(api: httpx.AsyncClient, api_env: dict[str, str],
                                               catalogue: Catalogue, redis: aioredis.Redis) -> None:
    artist = await catalogue.artist()
    a, b = await catalogue.song(artist, "A"), await catalogue.song(artist, "B")
    me, _ = await catalogue.user()
    peer, _ = await catalogue.user()
    for song in (a, b):
        await catalogue.played(peer, song)
    await catalogue.played(me, a)

    first = (await api.get("/api/recommendations", headers=await login(redis, api_env, me))).json()
    again = (await api.get("/api/recommendations", headers=await login(redis, api_env, me))).json()
    assert first["source"] == "worker" and first["song_ids"][0] == str(b)
    assert again["source"] == "cache" and again["song_ids"] == first["song_ids"]
    await redis.delete(f"recs:{me}")


async def test_release_through_the_api(api: httpx.AsyncClient, api_env: dict[str, str], catalogue: Catalogue,
                                       redis: aioredis.Redis, workers: httpx.AsyncClient) -> None:
    artist = await catalogue.artist("Released")
    fan, fan_email = await catalogue.user("fan")
    await catalogue.follow(fan, artist)
    resp = await api.post("/api/releases", json={"artist_id": artist, "title": "Fresh single"},
                          headers=await login(redis, api_env, fan, ("user", "admin")))  # owner or admin
    assert resp.status_code == 201, resp.text
    song = resp.json()["song"]["id"]

    async def mailed() -> bool:
        mails = (await workers.get("/sinks/email")).json()["messages"]
        return any(m["rcpt_to"] == [fan_email] and "Fresh single" in m["subject"] for m in mails)

    async def pushed() -> bool:
        pushes = (await workers.get("/sinks/push")).json()["messages"]
        return any((p["payload"].get("data") or {}).get("song_id") == str(song) for p in pushes)

    await eventually(mailed, 20, "the release e-mail")
    await eventually(pushed, 20, "the release push")
