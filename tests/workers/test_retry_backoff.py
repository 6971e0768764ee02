"""BullMQ retries: a push the provider refuses is retried with exponential backoff until it lands."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from bullmq import Job, Queue

from tests.workers.conftest import eventually

pytestmark = pytest.mark.stack


@pytest.fixture
async def queue(env: dict[str, str]) -> AsyncIterator[Queue]:
    q = Queue("notifications", {"connection": env["REDIS_URL"]})
    yield q
    await q.close()


async def finished(queue: Queue, job_id: str) -> Job | None:
    job = await Job.fromId(queue, job_id)
    return job if job is not None and job.finishedOn else None


async def test_push_is_retried_with_exponential_backoff(queue: Queue, workers: httpx.AsyncClient) -> None:
    user = f"retry-{uuid.uuid4().hex[:8]}"
    await workers.post("/sinks/push/faults", json={"user_id": user, "times": 2})

    job = await queue.add("push", {"user_id": user, "title": "Hello", "body": "third time lucky"},
                          {"attempts": 4, "backoff": {"type": "exponential", "delay": 300}, "priority": 1})
    done = await eventually(lambda: finished(queue, job.id), 20, "the push job to finish")

    assert await queue.getJobState(job.id) == "completed"
    assert done.attemptsMade == 3  # two refusals, then delivered
    waited_ms = done.finishedOn - done.timestamp
    assert waited_ms >= 300 + 600  # 300 ms then 600 ms between the attempts
    pushes = (await workers.get("/sinks/push")).json()["messages"]
    assert [p["payload"]["body"] for p in pushes if p["payload"].get("user_id") == user] == ["third time lucky"]


async def test_push_fails_for_good_once_attempts_are_used_up(queue: Queue, workers: httpx.AsyncClient) -> None:
    user = f"down-{uuid.uuid4().hex[:8]}"
    await workers.post("/sinks/push/faults", json={"user_id": user, "times": 5})

    job = await queue.add("push", {"user_id": user, "title": "Hello"},
                          {"attempts": 2, "backoff": {"type": "exponential", "delay": 100}})
    failed = await eventually(lambda: finished(queue, job.id), 20, "the push job to fail")

    assert await queue.getJobState(job.id) == "failed"
    assert failed.attemptsMade == 2 and "503" in failed.failedReason
    await workers.post("/sinks/push/faults", json={"user_id": user, "times": 0})


async def test_malformed_job_fails_without_retries(queue: Queue) -> None:
    job = await queue.add("push", {"title": "no user"}, {"attempts": 5, "backoff": 1000})
    failed = await eventually(lambda: finished(queue, job.id), 20, "the job to fail")
    assert failed.attemptsMade == 1 and "user_id" in failed.failedReason


async def test_faults_endpoint_rejects_bad_input(workers: httpx.AsyncClient) -> None:
    resp = await workers.post("/sinks/push/faults", json={"user_id": "x", "times": "lots"})
    assert resp.status_code == 400 and "times" in resp.json()["error"]
