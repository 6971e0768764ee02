"""The hub on a Redis Cluster: each topic's frames go through the one shard that owns its slot
(sharded pub/sub), reach workers on other hubs, and keep flowing when a master dies: its replica is
promoted, the hubs re-subscribe there and replay from the topic's stream what they missed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import psutil
from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox.common import tokens
from spotctl_sandbox.common.settings import DEV_JWT_SECRET
from spotctl_sandbox.realtime import bus, keys, publish
from spotctl_sandbox.realtime.client import HubClient, HubError
from spotctl_sandbox.realtime.topics import Topic
from tests.cluster.nodes import Cluster, Node
from tests.hub.conftest import next_of


async def _client(redis: RedisCluster, url: str, user: str, ns: str) -> HubClient:
    client = HubClient(url, await tokens.issue(redis, DEV_JWT_SECRET, user, user), namespace=ns)
    await client.connect()
    return client


def _rooms_one_per_master(cluster: Cluster, ns: str) -> dict[int, str]:
    """master port -> a room whose channel (and stream) hashes to that master."""
    found: dict[int, str] = {}
    for i in range(200):
        node = cluster.master_of(keys.channel(ns, Topic.room(f"r{i}")))
        found.setdefault(node.port, f"r{i}")
        if len(found) == 3:
            return found
    raise AssertionError("no room hashed to one of the masters")


def _shard_channels(node: Node) -> set[str]:
    with node.client() as c:
        return {ch.decode() for ch in c.execute_command("PUBSUB", "SHARDCHANNELS")}


async def test_a_frame_crosses_only_its_shard_and_reaches_workers_on_other_hubs(
        cluster: Cluster, redis: RedisCluster, hub_on) -> None:  # type: ignore[no-untyped-def]
    ns = "c" + uuid.uuid4().hex[:8]
    east, west = hub_on(), hub_on()
    ann, bob = await _client(redis, east.url, "ann", ns), await _client(redis, west.url, "bob", ns)
    rooms = _rooms_one_per_master(cluster, ns)
    for room in rooms.values():
        await ann.request("join", {"room": room})
        await bob.request("join", {"room": room})
    for port, room in rooms.items():  # each room's channel is subscribed on its own master only
        owner = next(n for n in cluster.nodes if n.port == port)
        channel = keys.channel(ns, Topic.room(room))
        assert channel in _shard_channels(owner)
        assert all(channel not in _shard_channels(n) for n in cluster.nodes if n is not owner)
        with owner.client() as c:
            assert c.execute_command("PUBSUB", "SHARDNUMSUB", channel)[1] == 2  # one per hub
    for room in rooms.values():
        sent = await ann.request("room_message", {"room": room, "data": f"hello {room}"})
        got = await next_of(bob, "room_message")
        assert (got["id"], got["content"]["data"]) == (sent["message_id"], f"hello {room}")
    await ann.close()
    await bob.close()


async def test_a_dead_master_is_replaced_and_the_frames_published_meanwhile_arrive(
        cluster: Cluster, redis: RedisCluster, hub_on) -> None:  # type: ignore[no-untyped-def]
    ns = "f" + uuid.uuid4().hex[:8]
    east, west = hub_on(), hub_on()
    ann, bob = await _client(redis, east.url, "ann", ns), await _client(redis, west.url, "bob", ns)
    room = Topic.room("failover")
    await ann.request("join", {"room": room.key})
    await bob.request("join", {"room": room.key})
    before = await ann.request("room_message", {"room": room.key, "data": "before"})
    assert (await next_of(bob, "room_message"))["id"] == before["message_id"]

    master = cluster.master_of(keys.channel(ns, room))
    # West's worker is frozen through the failover: the frames published once the replica serves the
    # slot reach west only through the stream (resume from the last id it delivered)
    frozen = [psutil.Process(west.proc.pid), *psutil.Process(west.proc.pid).children(recursive=True)]
    for p in frozen:
        p.send_signal(signal.SIGSTOP)
    killed_at = time.monotonic()
    cluster.kill(master)
    published: list[str] = []
    try:
        promoted = await _promotion(cluster, master, keys.channel(ns, room))
        for i in range(5):  # what a backend worker would publish, through the new master
            published.append(await _retrying(lambda i=i: bus.publish(redis, ns, room, "room_message",
                                                                       {"room": room.key, "from": "ops",
                                                                        "data": f"gap {i}"}, durable=True)))
    finally:
        for p in frozen:
            p.send_signal(signal.SIGCONT)
    got = [await next_of(bob, "room_message", timeout=20) for _ in published]
    resumed = time.monotonic() - killed_at
    assert [f["id"] for f in got] == published  # every one, in order, once
    assert [f["content"]["data"] for f in got] == [f"gap {i}" for i in range(5)]

    after = await _retrying(lambda: ann.request("room_message", {"room": room.key, "data": "after"}))
    assert (await next_of(bob, "room_message", timeout=10))["id"] == after["message_id"]
    print(f"\nfailover: replica promoted {promoted:.2f} s after the kill; the gap delivered to the frozen hub "
          f"{resumed:.2f} s after it (load average {os.getloadavg()[0]:.1f})")
    await ann.close()
    await bob.close()


async def _promotion(cluster: Cluster, dead: Node, key: str, timeout_s: float = 30) -> float:
    """Seconds from now until a live node says another master serves `key` (the replica, promoted)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        new = cluster.master_of(key)
        if new is not dead:
            assert new.role() == "master"
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"no replica took over from {dead.port} in {timeout_s} s")


async def _retrying(call, timeout_s: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await call()
        except (HubError, OSError, Exception):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_sessions_notifications_and_presence_work_on_the_cluster(
        cluster: Cluster, redis: RedisCluster, hub_on) -> None:  # type: ignore[no-untyped-def]
    """The hub's other Redis keys: a listening session's state and queue (one transaction, one hash
    tag), a notification (record, pending set and channel on different shards), presence."""
    ns = "s" + uuid.uuid4().hex[:8]
    east, west = hub_on(), hub_on()
    ann, bob = await _client(redis, east.url, "ann", ns), await _client(redis, west.url, "bob", ns)
    session = await ann.request("session_create", {"track_id": "t1", "queue": ["t2", "t3"]})
    sid = session["session_id"]
    await bob.request("session_join", {"session_id": sid})
    await ann.request("queue_add", {"session_id": sid, "track_id": "t4"})
    await ann.request("session_control", {"session_id": sid, "action": "skip"})
    state = await next_of(bob, "session_state")
    assert state["content"]["track_id"] == "t2"
    assert [i["track_id"] for i in state["content"]["queue"]] == ["t3", "t4"]

    nid = await publish.publish_notification(redis, "bob", title="hi", body="there", namespace=ns)
    assert (await next_of(bob, "notification"))["id"] == nid
    assert (await bob.request("notification_status", {"id": nid}))["status"] in ("sent", "delivered")
    await ann.close()
    await bob.close()
