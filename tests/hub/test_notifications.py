"""Notifications end to end: priority order, offline delivery, tracking, batching, routing, i18n."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.realtime import keys
from spotctl_sandbox.realtime.client import HubClient
from spotctl_sandbox.realtime.publish import notification_status, publish_notification

from .conftest import Hub, UserFactory, next_of, token, until

pytestmark = pytest.mark.stack


async def test_offline_user_gets_notifications_on_connect_in_priority_order(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None) -> None:
    uid = f"offline-{ns}"
    for priority in ("LOW", "NORMAL", "CRITICAL", "HIGH", "NORMAL"):
        await publish_notification(redis, uid, title=priority, body="b", priority=priority, namespace=ns)
    async with HubClient(hub.url, await token(redis, hub, uid), namespace=ns) as client:
        order = [(await next_of(client, "notification"))["content"]["title"] for _ in range(5)]
    assert order == ["CRITICAL", "HIGH", "NORMAL", "NORMAL", "LOW"]


async def test_delivery_is_tracked_from_sent_to_read(user: UserFactory, redis: aioredis.Redis, ns: str) -> None:
    dave = await user("dave")
    nid = await publish_notification(redis, dave.user_id, title="t", body="b", namespace=ns)
    assert (await next_of(dave, "notification"))["id"] == nid
    await until_status(redis, nid, ns, "delivered")
    assert await dave.request("notification_read", {"id": nid}) == {"id": nid, "status": "read"}
    status = await dave.request("notification_status", {"id": nid})
    assert status["status"] == "read" and float(status["read_at"]) >= float(status["delivered_at"])


async def until_status(redis: aioredis.Redis, nid: str, ns: str, wanted: str) -> None:
    seen: dict[str, str] = {}

    async def poll() -> None:
        seen.update(await notification_status(redis, nid, ns) or {})

    for _ in range(100):
        await poll()
        if seen.get("status") == wanted:
            return
        await until(lambda: True, 0.05)
    raise AssertionError(f"status stayed {seen.get('status')}")


async def test_someone_elses_notification_is_not_found(user: UserFactory, redis: aioredis.Redis, ns: str) -> None:
    erin, frank = await user("erin"), await user("frank")
    nid = await publish_notification(redis, erin.user_id, title="t", body="b", namespace=ns)
    with pytest.raises(Exception, match="not_found"):
        await frank.request("notification_read", {"id": nid})


async def test_low_priority_notifications_arrive_as_one_batch(
        user: UserFactory, redis: aioredis.Redis, ns: str) -> None:
    gina = await user("gina")
    await gina.request("time_sync", {"client_time": 0})  # connect-time delivery of pending ones is done
    ids = [await publish_notification(redis, gina.user_id, title=f"low {i}", body="b",
                                      priority="LOW", namespace=ns) for i in range(3)]
    urgent = await publish_notification(redis, gina.user_id, title="now", body="b",
                                        priority="HIGH", namespace=ns)
    assert (await next_of(gina, "notification"))["id"] == urgent  # not held back by the batch
    batch = await next_of(gina, "notification_batch", timeout=10)
    assert [n["id"] for n in batch["content"]["notifications"]] == ids


async def test_a_full_batch_leaves_at_once_and_loses_nothing(
        user: UserFactory, redis: aioredis.Redis, ns: str) -> None:
    ivy = await user("ivy")
    await ivy.request("time_sync", {"client_time": 0})
    ids = [await publish_notification(redis, ivy.user_id, title=f"low {i}", body="b", priority="LOW",
                                      namespace=ns) for i in range(130)]
    first = await next_of(ivy, "notification_batch", timeout=10)
    second = await next_of(ivy, "notification_batch", timeout=10)
    got = [n["id"] for frame in (first, second) for n in frame["content"]["notifications"]]
    assert len(first["content"]["notifications"]) == 100 and got == ids


async def test_preferences_route_and_localise(user: UserFactory, redis: aioredis.Redis, ns: str) -> None:
    hans = await user("hans")
    await hans.request("preferences", {"channels": ["websocket", "email"], "locale": "de"})
    nid = await publish_notification(redis, hans.user_id, title="x", body="y", kind="new_follower",
                                     data={"follower": "Ida"}, namespace=ns)
    frame = await next_of(hans, "notification")
    assert frame["content"]["title"] == "Neuer Follower" and frame["content"]["content"] == "Ida folgt dir jetzt"
    record = await notification_status(redis, nid, ns)
    assert record is not None and record["channels"] == "email,websocket" and record["channel:email"] == "queued"


async def test_unknown_priority_is_a_clear_error(redis: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="priority must be one of"):
        await publish_notification(redis, "u", title="t", body="b", priority="URGENT")


async def test_each_external_channel_is_recorded_queued_before_its_job_exists(
        redis: aioredis.Redis, ns: str) -> None:
    """A worker marks its channel delivered as soon as the sink answered: a "queued" written after the
    job was added could land after that and undo it (test_hub_jobs's tracking stayed "queued" under
    load). So Redis must see the record with every channel queued before it sees any job, and no
    channel written after."""
    uid = f"mailed-{ns}"
    await redis.hset(keys.prefs(ns, uid), mapping={"channels": "websocket,email,push", "locale": "en"})
    seen: list[str] = []
    async with redis.monitor() as monitor:  # every command Redis runs, in the order it runs them
        nid = await publish_notification(redis, uid, title="t", body="b", priority="HIGH", namespace=ns)
        await redis.echo(f"published {nid}")  # after everything publish_notification sent
        while (command := (await asyncio.wait_for(monitor.next_command(), 10))["command"]) != f"ECHO published {nid}":
            if nid in command:
                seen.append(command)
    record = keys.notification(ns, nid)
    jobs = [i for i, c in enumerate(seen) if c.split()[0] in ("EVALSHA", "EVAL")]  # BullMQ adds by script
    writes = [(i, field) for i, c in enumerate(seen) if c.startswith(f"HSET {record} ")
              for field in ("channel:email", "channel:push") if field in c.split()]
    assert jobs and sorted(field for _, field in writes) == ["channel:email", "channel:push"]
    assert all(i < jobs[0] for i, _ in writes), f"a channel was written after a job was added: {seen}"
