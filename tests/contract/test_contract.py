"""The names and job options every producer shares come from one place, and the jobs carry them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from bullmq import Queue

from spotctl_sandbox import contract


def test_job_options_bound_history_the_same_way_everywhere() -> None:
    from spotctl_sandbox.api.resources import JOB_OPTIONS

    assert JOB_OPTIONS == contract.job_options()  # retried through a ~30 s store restart (issue 15)
    assert JOB_OPTIONS["removeOnComplete"] == {"count": contract.KEEP_COMPLETED}
    assert contract.job_options(backoff_ms=None, priority=2) == {
        "attempts": contract.RETRY_ATTEMPTS, "priority": 2, "removeOnComplete": {"count": 1000},
        "removeOnFail": {"count": 5000}}


def test_the_cli_lists_the_contracts_queues_and_dead_letter_names() -> None:
    from spotctl.inspect import jobs_view, rabbit_view

    assert set(contract.BULL_QUEUES) <= set(jobs_view.queue_names([]))
    assert rabbit_view.dlq_name(contract.Q_DELIVERY) == "notifications.delivery.dlq"
    assert rabbit_view.dlq_name("notifications.delivery.dlq") == "notifications.delivery.dlq"


@pytest.mark.stack
async def test_a_hub_notification_job_keeps_bounded_history(stack: Any) -> None:
    """The hub's push jobs used to keep every failure forever (no removeOnFail)."""
    from spotctl_sandbox.realtime import publish

    redis = aioredis.from_url(stack.env["REDIS_URL"])
    ns, user = "contract" + uuid.uuid4().hex[:8], "u1"
    queue = Queue(contract.Q_NOTIFICATIONS, {"connection": stack.env["REDIS_URL"]})
    try:
        nid = await publish.publish_notification(redis, user, title="t", body="b", priority="CRITICAL",
                                                 namespace=ns)
        jobs = await queue.getJobs(["waiting", "prioritized", "active", "completed", "failed", "delayed"])
        (job,) = [j for j in jobs if j.data.get("notification_id") == nid]
        assert job.name == contract.JOB_PUSH
        assert job.opts["removeOnComplete"] == {"count": contract.KEEP_COMPLETED}
        assert job.opts["removeOnFail"] == {"count": contract.KEEP_FAILED}
        await job.remove()
    finally:
        keys = [k async for k in redis.scan_iter(match=f"hub:{ns}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await queue.close()
        await redis.aclose()
