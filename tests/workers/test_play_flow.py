"""Flow 1, worker side: `update_recently_played` lands in recent:<user> and listening_history."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from functools import partial

import pytest
import redis.asyncio as aioredis
from bullmq import Job, Queue

from spotctl_sandbox import contract
from tests.workers.conftest import Catalogue, eventually

pytestmark = pytest.mark.stack


@pytest.fixture
async def plays(env: dict[str, str]) -> AsyncIterator[Queue]:
    queue = Queue("recently-played", {"connection": env["REDIS_URL"]})
    yield queue
    await queue.close()


async def finished(queue: Queue, job_id: str) -> Job | None:
    job = await Job.fromId(queue, job_id)
    return job if job is not None and job.finishedOn else None


async def test_play_job_updates_recent_list_and_history(
        plays: Queue, catalogue: Catalogue, redis: aioredis.Redis) -> None:
    user, _ = await catalogue.user()
    artist = await catalogue.artist()
    first, second = await catalogue.song(artist, "First"), await catalogue.song(artist, "Second")
    played_at = round(time.time(), 3)

    jobs = [await plays.add("update_recently_played", {"user_id": str(user), "song_id": str(song),
                                                        "played_at": at})
            for song, at in ((first, played_at), (second, played_at + 1), (first, played_at + 2))]
    done = [await eventually(partial(finished, plays, job.id), 20, f"job {job.id}") for job in jobs]

    assert done[0].returnvalue["user_id"] == str(user) and done[0].returnvalue["history_row_added"] is True
    assert all(job.progress == 100 for job in done)
    recent = [json.loads(item) for item in await redis.lrange(f"recent:{user}", 0, -1)]
    assert recent == [{"song_id": first, "played_at": played_at + 2},  # newest first, one entry per song
                      {"song_id": second, "played_at": played_at + 1}]
    rows = await (await catalogue.conn.execute(
        "SELECT song_id, extract(epoch FROM played_at) FROM listening_history WHERE user_id = %s "
        "ORDER BY played_at", (user,))).fetchall()
    assert [(s, round(float(t), 3)) for s, t in rows] == [
        (first, played_at), (second, played_at + 1), (first, played_at + 2)]
    await redis.delete(f"recent:{user}", contract.recent_at_key(user))


async def test_recent_list_is_capped_and_replays_are_idempotent(
        plays: Queue, catalogue: Catalogue, redis: aioredis.Redis) -> None:
    user, _ = await catalogue.user()
    artist = await catalogue.artist()
    songs = [await catalogue.song(artist, f"Track {i}") for i in range(55)]
    start = time.time()
    jobs = await plays.addBulk([{"name": "update_recently_played",
                                 "data": {"user_id": user, "song_id": song, "played_at": start + i}}
                                for i, song in enumerate(songs)])
    replay = await plays.add("update_recently_played",  # the same play again, e.g. a retried producer
                             {"user_id": user, "song_id": songs[-1], "played_at": start + 54})
    for job in [*jobs, replay]:
        await eventually(partial(finished, plays, job.id), 30, f"job {job.id}")

    recent = [json.loads(item)["song_id"] for item in await redis.lrange(f"recent:{user}", 0, -1)]
    assert recent == songs[:4:-1]  # 8 jobs at a time finish in any order; the list follows play time
    count = await (await catalogue.conn.execute(
        "SELECT count(*) FROM listening_history WHERE user_id = %s", (user,))).fetchone()
    assert count == (55,)
    # The replay may run beside the original (8 at a time): exactly one of the two adds the row.
    original, again = await Job.fromId(plays, jobs[-1].id), await Job.fromId(plays, replay.id)
    assert original is not None and again is not None
    assert sorted([original.returnvalue["history_row_added"], again.returnvalue["history_row_added"]]) == [
        False, True]
    await redis.delete(f"recent:{user}", contract.recent_at_key(user))


async def test_unknown_song_fails_without_retries(plays: Queue, catalogue: Catalogue) -> None:
    user, _ = await catalogue.user()
    job = await plays.add("update_recently_played", {"user_id": user, "song_id": 987654321987},
                          {"attempts": 5, "backoff": {"type": "exponential", "delay": 1000}})
    failed = await eventually(lambda: finished(plays, job.id), 20, "the job to fail")
    assert failed.attemptsMade == 1 and "unknown user" in failed.failedReason
    assert await plays.getJobState(job.id) == "failed"
