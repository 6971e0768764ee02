"""`spotctl jobs` against BullMQ on a real Redis: a queue of the test's own, obliterated afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bullmq import Queue, Worker

pytestmark = pytest.mark.stack


@pytest.fixture
async def queue(stack: Any, uid: str) -> AsyncIterator[Queue]:
    q = Queue(uid, {"connection": stack.env["REDIS_URL"]})
    yield q
    await q.obliterate(force=True)
    await q.close()


async def fail_one(stack: Any, queue: Queue) -> str:
    """Run a real worker whose processor raises, until one job has failed."""
    job = await queue.add("charge", {"user": "42"}, {"attempts": 1})

    async def boom(job: Any, token: str) -> None:
        raise RuntimeError("card declined")

    worker = Worker(queue.name, boom, {"connection": stack.env["REDIS_URL"]})
    for _ in range(100):
        if await queue.getJobState(job.id) == "failed":
            break
        await asyncio.sleep(0.1)
    await worker.close()
    return str(job.id)


def test_enqueue_then_counts_and_list(cli, queue: Queue) -> None:
    added = cli("jobs", "enqueue", queue.name, "update_recently_played", '{"user_id": "7", "song_id": 3}',
                "--attempts", "3", "-o", "json")
    assert added.code == 0, added
    job_id = added.json()["id"]

    result = cli("jobs", "queues", "-o", "json")
    assert result.code == 0, result
    mine = next(q for q in result.json() if q["queue"] == queue.name)
    assert (mine["waiting"], mine["failed"], mine["paused"]) == (1, 0, False)
    assert {"recently-played", "notifications", "email", "reports"} <= {q["queue"] for q in result.json()}

    listed = cli("jobs", "list", queue.name, "--state", "waiting", "-o", "json").json()
    (job,) = listed["jobs"]
    assert (job["id"], job["data"], job["attempts"]) == (job_id, {"user_id": "7", "song_id": 3}, 3)


def test_bad_input_is_a_usage_error(cli, queue: Queue) -> None:
    assert cli("jobs", "enqueue", queue.name, "x", "[1, 2]").code == 2
    assert cli("jobs", "enqueue", queue.name, "x", "{oops").code == 2
    assert cli("jobs", "retry", queue.name).code == 2


async def test_failed_jobs_show_reason_and_retry(cli, stack: Any, queue: Queue) -> None:
    job_id = await fail_one(stack, queue)
    failed = cli("jobs", "failed", queue.name, "-o", "json")
    assert failed.code == 0, failed
    (job,) = failed.json()["jobs"]
    assert (job["id"], job["failed_reason"], job["attempts_made"]) == (job_id, "card declined", 1)

    retried = cli("jobs", "retry", queue.name, job_id, "-o", "json")
    assert retried.json() == {"queue": queue.name, "retried": [job_id]}
    assert await queue.getJobState(job_id) == "waiting"
    again = cli("jobs", "retry", queue.name, job_id)
    assert again.code == 1 and "not failed" in again.err


async def test_retry_all(cli, stack: Any, queue: Queue) -> None:
    job_id = await fail_one(stack, queue)
    assert cli("jobs", "retry", queue.name, "--all", "-o", "json").json()["retried"] == [job_id]
    assert (await queue.getJobCounts("failed", "waiting")) == {"failed": 0, "waiting": 1}


async def test_clean_is_confirmed_and_counts(cli, queue: Queue) -> None:
    for i in range(3):
        await queue.add("x", {"i": i})
    refused = cli("jobs", "clean", queue.name, "--state", "waiting")
    assert refused.refused() and "3 waiting job(s)" in refused.err
    assert (await queue.getJobCounts("waiting"))["waiting"] == 3
    done = cli("jobs", "clean", queue.name, "--state", "waiting", "--yes", "-o", "json")
    assert done.json() == {"queue": queue.name, "state": "waiting", "removed": 3}
    assert (await queue.getJobCounts("waiting"))["waiting"] == 0


async def test_purge_jobs_drains_waiting_and_delayed(cli, queue: Queue) -> None:
    await queue.add("now", {})
    await queue.add("later", {}, {"delay": 60_000})
    assert cli("purge", "jobs", queue.name).refused()
    done = cli("purge", "jobs", queue.name, "--yes", "-o", "json")
    assert done.json() == {"queue": queue.name, "purged": 2, "obliterated": False}
    assert await queue.getJobCounts("waiting", "delayed") == {"waiting": 0, "delayed": 0}


async def test_an_unknown_queue_is_an_error_naming_the_known_ones(cli, stack: Any, uid: str) -> None:
    import redis.asyncio as aredis

    for args in (("purge", "jobs", uid, "--yes"), ("jobs", "failed", uid), ("jobs", "clean", uid, "--yes"),
                 ("jobs", "retry", uid, "--all")):
        result = cli(*args)
        assert result.code == 2 and f"no BullMQ queue '{uid}'" in result.err, (args, result)
        assert "recently-played" in result.err and "email" in result.err and "Traceback" not in result.err
    r = aredis.Redis.from_url(stack.env["REDIS_URL"])
    assert [k async for k in r.scan_iter(match=f"bull:{uid}:*")] == []  # nothing was made on the way
    await r.aclose()


def test_enqueue_into_a_new_queue_warns(cli, queue: Queue) -> None:
    added = cli("jobs", "enqueue", queue.name, "x", "{}")
    assert added.code == 0 and f"'{queue.name}' is a new queue" in added.err
    again = cli("jobs", "enqueue", queue.name, "x", "{}")
    assert again.code == 0 and "new queue" not in again.err


def test_down_redis_for_jobs(cli, closed_port) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    assert cli("jobs", "queues", "--url", url).down("redis", url)
