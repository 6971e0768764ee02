"""The API's and the workers' Redis on a cluster URL: their clients, BullMQ (hash-tagged prefix) and
the multi-key scripts (keys that share a slot), against the same six real nodes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import bullmq
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox import contract
from spotctl_sandbox.api.ratelimit import RateLimits
from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.env import Env
from spotctl_sandbox.workers.config import WorkerConfig
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.messages import PlayJob
from spotctl_sandbox.workers.recently_played import update_recent
from spotctl_sandbox.workers.state import Health
from tests.cluster.nodes import Cluster


def _deps(cluster: Cluster) -> Deps:
    env = Env({"REDIS_CLUSTER_URL": cluster.url, "REDIS_URL": "redis://127.0.0.1:1/0"})
    return Deps.create(WorkerConfig.from_env(env), Health([]))


async def test_the_workers_take_a_cluster_url_for_their_jobs_and_their_scripts(cluster: Cluster) -> None:
    deps = _deps(cluster)
    assert isinstance(deps.redis, RedisCluster)
    user = "u" + uuid.uuid4().hex[:8]
    for i, song in enumerate(["7", "8", "7"]):  # recent:<user> and its recent-at twin: one script, one slot
        await update_recent(deps, PlayJob(user, song, 1000.0 + i))
    recent = [json.loads(x) for x in await deps.redis.lrange(contract.recent_key(user), 0, -1)]
    assert [(r["song_id"], r["played_at"]) for r in recent] == [(7, 1002), (8, 1001)]

    seen: list[Any] = []
    both = asyncio.Event()

    async def process(job: bullmq.Job, token: str) -> dict[str, str]:
        seen.append(job.data)
        if len(seen) == 2:
            both.set()
        return {"ok": "yes"}

    name = "cluster-" + uuid.uuid4().hex[:6]
    worker = bullmq.Worker(name, process, deps.bull_options())
    # what the API's outbox relay and the release fan-out do: a batch of jobs (addBulk's pipelined
    # EVALSHA is refused by redis-py on a cluster, so one add each there)
    await redisconn.add_jobs(deps.queue(name), [{"name": "ping", "data": {"n": n}, "opts": {"jobId": f"j{n}"}}
                                                for n in (1, 2)], cluster=True)
    await asyncio.wait_for(both.wait(), 15)
    assert sorted(d["n"] for d in seen) == [1, 2]
    await worker.close()
    await deps.queue(name).close()
    keys = [k async for k in deps.redis.scan_iter(match=f"{contract.BULL_CLUSTER_PREFIX}:{name}:*")]
    assert keys  # BullMQ's keys carry the hash tag
    await deps.redis.aclose()


async def test_the_api_rate_limits_count_on_the_cluster(cluster: Cluster) -> None:
    limits = RateLimits(cluster.url, "2/minute", "100/minute")
    ip = "198.51.100." + str(uuid.uuid4().int % 250)
    verdicts = [await limits.check_ip(ip) for _ in range(3)]  # it fails open: a third True = not counted
    assert [v.allowed for v in verdicts] == [True, True, False]
