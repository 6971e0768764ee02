"""Flow 3, worker side: a release on the `notifications` fanout reaches followers and drops stale caches."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import aio_pika
import httpx
import pytest
import redis.asyncio as aioredis
from bullmq import Job, Queue

from spotctl_sandbox import contract
from spotctl_sandbox.events import declare_exchanges
from tests.workers.conftest import Catalogue, eventually, take_from_queue

pytestmark = pytest.mark.stack

QUEUES = ("notifications.delivery", "notifications.search-indexer", "notifications.cache-invalidation")


@pytest.fixture
async def notifications(env: dict[str, str]) -> AsyncIterator[tuple[Any, Any]]:
    connection = await aio_pika.connect(env["AMQP_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchanges = await declare_exchanges(channel)
        yield channel, exchanges["notifications"]


async def publish(exchange: Any, body: bytes) -> None:
    await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                            content_type="application/json"), routing_key="")


async def sink(workers: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    return list((await workers.get(f"/sinks/{kind}", params={"limit": 200})).json()["messages"])


async def test_release_notifies_followers_by_push_email_and_hub(
        notifications: tuple[Any, Any], catalogue: Catalogue, workers: httpx.AsyncClient,
        redis: aioredis.Redis, env: dict[str, str]) -> None:
    channel, exchange = notifications
    artist = await catalogue.artist("Queen")
    fan, fan_email = await catalogue.user("fan")
    bystander, _ = await catalogue.user("bystander")
    await catalogue.follow(fan, artist)
    title = f"Bohemian {uuid.uuid4().hex[:6]}"
    song = await catalogue.song(artist, title)
    search_key = f"search:{uuid.uuid4().hex}"
    await redis.set(f"song:{song}", "stale", ex=60)
    await redis.set(search_key, "[]", ex=60)
    await redis.set(f"recs:{fan}", "{}", ex=60)

    await publish(exchange, json.dumps({"type": "release", "song_id": song, "artist_id": artist,
                                        "title": title, "ts": time.time()}).encode())

    async def pushed() -> list[dict[str, Any]]:
        return [m for m in await sink(workers, "push")
                if (m["payload"].get("data") or {}).get("song_id") == str(song)]

    pushes = await eventually(pushed, 20, "the push to the follower")
    assert [p["payload"]["user_id"] for p in pushes] == [str(fan)]  # the bystander follows nobody
    assert pushes[0]["payload"]["body"] == title

    async def mailed() -> list[dict[str, Any]]:
        return [m for m in await sink(workers, "email") if title in m["subject"]]

    mails = await eventually(mailed, 20, "the follower's e-mail")
    assert [m["rcpt_to"] for m in mails] == [[fan_email]] and "Queen" in mails[0]["body"]

    jobs = Queue("notifications", {"connection": env["REDIS_URL"]})

    async def jobs_completed() -> bool:  # the sinks have them a moment before BullMQ records completion
        states = {await jobs.getJobState(f"release-{song}-{fan}-{kind}") for kind in ("push", "email")}
        return states == {"completed"}

    await eventually(jobs_completed, 10, "the follower's push and e-mail jobs to complete")
    assert await jobs.getJobState(f"release-{song}-{bystander}-push") == "unknown"
    push_job = await Job.fromId(jobs, f"release-{song}-{fan}-push")
    mail_job = await Job.fromId(jobs, f"release-{song}-{fan}-email")
    assert push_job is not None and mail_job is not None
    assert push_job.opts["priority"] < mail_job.opts["priority"]  # 1 = highest: pushes go first
    assert push_job.opts["attempts"] == contract.RETRY_ATTEMPTS and push_job.opts["backoff"]["type"] == "exponential"
    await jobs.close()

    async def pending_in_hub() -> list[str]:  # offline, so the hub keeps it for the next connection
        nids = cast(list[str], await redis.zrange(f"hub:default:notif-pending:{fan}", 0, -1))
        kinds = [await redis.hget(f"hub:default:notif:{nid}", "kind") for nid in nids]
        return nids if "new_release" in kinds else []

    pending = await eventually(pending_in_hub, 10, "the real-time notification in the hub")

    async def caches_dropped() -> bool:
        return not await redis.exists(f"song:{song}", search_key, f"recs:{fan}")

    await eventually(caches_dropped, 10, "song:/search:/recs: caches to be dropped")

    async def drained() -> bool:
        for name in QUEUES:
            if (await channel.declare_queue(name, passive=True)).declaration_result.message_count:
                return False
        return True

    await eventually(drained, 10, "the three notification queues to drain")
    await redis.delete(f"hub:default:notif-pending:{fan}", *(f"hub:default:notif:{n}" for n in pending))


async def test_poison_message_goes_to_each_dlq_and_consumers_keep_running(
        notifications: tuple[Any, Any], catalogue: Catalogue, workers: httpx.AsyncClient) -> None:
    channel, exchange = notifications
    marker = uuid.uuid4().hex.encode()
    before = (await workers.get("/health")).json()["workers"]["delivery"]["dead_lettered"]

    await publish(exchange, b"{not json " + marker)
    await publish(exchange, b'{"type": "release", "artist_id": 1, "note": "' + marker + b'"}')  # no song_id

    for queue in QUEUES:
        dead = await take_from_queue(channel, f"{queue}.dlq", marker)
        assert dead.headers["x-death"][0]["reason"] == "rejected"
        assert dead.headers["x-death"][0]["queue"] == queue
        await take_from_queue(channel, f"{queue}.dlq", marker)  # both poison messages landed
    health = (await workers.get("/health")).json()["workers"]["delivery"]
    assert health["state"] == "running" and health["dead_lettered"] >= before + 2

    artist = await catalogue.artist()
    fan, _ = await catalogue.user()
    await catalogue.follow(fan, artist)
    song = await catalogue.song(artist, "After the poison")
    await publish(exchange, json.dumps({"type": "release", "song_id": song, "artist_id": artist}).encode())

    async def pushed() -> bool:
        return any(m["payload"].get("user_id") == str(fan) for m in await sink(workers, "push"))

    await eventually(pushed, 20, "a release after the poison messages to be delivered")
