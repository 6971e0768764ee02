"""The bus as a worker reads it, on both single-Redis brokers: the lean subscription (common/leansub.py,
one Redis over TCP) and redis-py's PubSub (kept for TLS and unix sockets). Frames arrive in order in
bounded bursts, a payload that is not a hub frame is skipped, an unsubscribed channel stops, and a
lost connection (the client killed, Redis restarted) is made again with every held channel subscribed
again, those subscribed meanwhile included; the lean one authenticates first. A throwaway Redis of the
test's own."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest
import redis as syncredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from spotctl_sandbox.common import tokens
from spotctl_sandbox.common.leanredis import LeanRedis
from spotctl_sandbox.common.leansub import LeanSub, Refusals
from spotctl_sandbox.hub.broker import LeanBroker, RedisBroker
from spotctl_sandbox.hub.core.fanout import BURST_MAX_FRAMES, Published
from spotctl_sandbox.hub.worker import _redis as worker_redis
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.client import HubClient, HubError
from spotctl_sandbox.realtime.topics import Topic
from tests.support.throwaway import Throwaway, redis_server_bin

from .conftest import Hub, HubProcess, answering, free_port, next_of

pytestmark = pytest.mark.stack

Bus = LeanBroker | RedisBroker


async def ready(port: int, client: aioredis.Redis | None = None) -> aioredis.Redis:
    """The worker's own client (its pool, bound and retry) on database 2, once Redis answers."""
    return await answering(client or cast(aioredis.Redis, worker_redis(f"redis://127.0.0.1:{port}/2", 1.0)))


@pytest.fixture(params=["lean", "redis-py"])
async def bus(request: pytest.FixtureRequest, lone_redis: tuple[Throwaway, int]) -> AsyncIterator[Bus]:
    _, port = lone_redis
    client = await ready(port)
    lean = LeanRedis("127.0.0.1", port, db=2, timeout_s=1.0)
    broker: Bus = LeanBroker(client, lean) if request.param == "lean" else RedisBroker(client)
    await broker.start()
    yield broker
    await broker.stop()
    lean.close()
    await client.aclose()


def payload(n: int) -> str:
    body = protocol.dumps(protocol.body("room_message", {"n": n}, topic="room:r"))
    return protocol.bus_payload(f"e:{n}", body)


async def collect(bus: Bus, count: int, timeout: float = 5.0) -> list[list[Published]]:
    """Bursts read until `count` frames came (or the time is up), riding out a lost connection as
    node.py's read loop does."""
    bursts: list[list[Published]] = []
    deadline = time.monotonic() + timeout
    while sum(map(len, bursts)) < count and time.monotonic() < deadline:
        try:
            burst = await bus.read_burst(timeout=0.2)
        except RedisError:
            await asyncio.sleep(0.1)
            continue
        if burst:
            bursts.append(burst)
    return bursts


async def test_frames_arrive_in_order_in_bounded_bursts_and_a_stray_payload_is_skipped(bus: Bus) -> None:
    a, b = keys.channel("t", Topic.room("a")), keys.channel("t", Topic.room("b"))
    await bus.subscribe(a)
    await bus.subscribe(b)
    await asyncio.sleep(0.1)  # redis-py's subscribe does not wait for Redis's confirmation either
    total = BURST_MAX_FRAMES + 500
    async with bus.redis.pipeline(transaction=False) as pipe:
        for n in range(total):
            pipe.publish(a if n % 2 else b, payload(n))
            if n == 10:
                pipe.publish(a, "not a hub frame")
        await pipe.execute()
    bursts = await collect(bus, total)
    frames = [pub for burst in bursts for pub in burst]
    assert [pub.frame_id for pub in frames] == [f"e:{n}" for n in range(total)]
    assert [pub.channel for pub in frames[:2]] == [b, a] and frames[0].content == {"n": 0}
    assert max(map(len, bursts)) <= BURST_MAX_FRAMES
    assert len(bursts) < total / 10, f"{len(bursts)} reads for {total} frames: not read in bursts"


async def test_an_unsubscribed_channel_stops_and_the_others_go_on(bus: Bus) -> None:
    a, b = keys.channel("t", Topic.room("a")), keys.channel("t", Topic.room("b"))
    await bus.subscribe(a)
    await bus.subscribe(b)
    await asyncio.sleep(0.1)
    await bus.redis.publish(a, payload(1))
    assert [pub.channel for burst in await collect(bus, 1) for pub in burst] == [a]
    await bus.unsubscribe(a)
    await asyncio.sleep(0.1)
    await bus.redis.publish(a, payload(2))
    await bus.redis.publish(b, payload(3))
    await bus.redis.publish(b, payload(4))
    frames = [pub for burst in await collect(bus, 3, timeout=1.5) for pub in burst]
    assert [(pub.channel, pub.frame_id) for pub in frames] == [(b, "e:3"), (b, "e:4")]


async def every_channel_delivers(bus: Bus, channels: list[str], timeout: float = 15.0) -> set[str]:
    """Publish a probe on every channel not heard yet, read, repeat: the channels heard from in time."""
    heard: set[str] = set()
    deadline = time.monotonic() + timeout
    n = 0
    while set(channels) - heard and time.monotonic() < deadline:
        for channel in set(channels) - heard:
            n += 1
            try:
                await bus.redis.publish(channel, payload(n))
            except RedisError:  # Redis is still starting
                pass
        for burst in await collect(bus, 1, timeout=0.3):
            heard.update(pub.channel for pub in burst)
    return heard


async def test_a_killed_connection_is_made_again_with_every_held_channel(bus: Bus) -> None:
    held = [keys.channel("t", Topic.room(f"r{i}")) for i in range(5)]
    for channel in held:
        await bus.subscribe(channel)
    assert await every_channel_delivers(bus, [keys.CONTROL_CHANNEL, *held]) == {keys.CONTROL_CHANNEL, *held}

    assert await bus.redis.client_kill_filter(_type="pubsub") == 1
    late = keys.channel("t", Topic.room("late"))
    await bus.subscribe(late)  # as the worker notices the loss, or before: it is held either way
    await bus.unsubscribe(held[0])
    wanted = [keys.CONTROL_CHANNEL, *held[1:], late]
    assert await every_channel_delivers(bus, wanted) == set(wanted)
    await bus.redis.publish(held[0], payload(-1))
    await bus.redis.publish(late, payload(-2))  # after it: once this came, the other would have
    seen: list[Published] = []
    while "e:-2" not in {pub.frame_id for pub in seen}:
        seen += [pub for burst in await collect(bus, 1, timeout=2.0) or [[]] for pub in burst]
    assert "e:-1" not in {pub.frame_id for pub in seen}


async def test_a_restarted_redis_fails_reads_while_down_then_every_held_channel_delivers(
        lone_redis: tuple[Throwaway, int]) -> None:
    server, port = lone_redis
    client = await ready(port)
    lean = LeanRedis("127.0.0.1", port, db=2, timeout_s=1.0)
    bus = LeanBroker(client, lean)
    await bus.start()
    held = [keys.channel("t", Topic.room(f"r{i}")) for i in range(3)]
    for channel in held:
        await bus.subscribe(channel)
    assert await every_channel_delivers(bus, held) == set(held)

    server.stop()
    with pytest.raises(RedisConnectionError):  # the read waiting when the connection went, once the
        while await bus.read_burst(timeout=5.0):  # probes read off it before (a channel probed twice) are taken
            pass
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):  # and each read while Redis is down, at once
        await bus.read_burst(timeout=5.0)
    assert time.monotonic() - started < 1.0
    late = keys.channel("t", Topic.room("late"))
    await bus.subscribe(late)  # while Redis is down: sent when the connection is made again
    server.start()
    await ready(port, client)
    assert await every_channel_delivers(bus, [keys.CONTROL_CHANNEL, *held, late]) == {
        keys.CONTROL_CHANNEL, *held, late}
    await bus.stop()
    lean.close()
    await client.aclose()


async def test_a_hub_worker_delivers_again_after_its_bus_connection_is_killed_and_after_a_redis_restart(
        hub: Hub, ns: str, hub_factory: Callable[..., HubProcess], lone_redis: tuple[Throwaway, int]) -> None:
    """The whole worker: its read loop rides out the lost subscription, and the room its clients
    joined before is delivered again, the connections kept throughout."""
    server, port = lone_redis
    own = await ready(port)
    proc = hub_factory(REDIS_URL=f"redis://127.0.0.1:{port}/2", HUB_WORKERS="1").start()
    ann, ben = [HubClient(proc.url, await tokens.issue(own, hub.env["JWT_SECRET"], f"{name}-{ns}", name),
                          namespace=ns, reconnect=False) for name in ("ann", "ben")]
    for client in (ann, ben):
        await client.connect()
        await client.request("join", {"room": "kept"})

    async def delivered(text: str) -> bool:
        """`text` sent by ann reached ben (a send refused while Redis is away is tried again)."""
        with contextlib.suppress(HubError):
            await ann.request("room_message", {"room": "kept", "data": {"text": text}})
            with contextlib.suppress(asyncio.TimeoutError):
                while True:
                    frame = await next_of(ben, "room_message", timeout=1.0)
                    if frame["content"]["data"] == {"text": text}:
                        return True
        return False

    async def until_delivered(text: str) -> None:
        deadline = time.monotonic() + 20
        while not await delivered(text):
            assert time.monotonic() < deadline, f"{text!r} never reached ben"
            await asyncio.sleep(0.2)

    await until_delivered("before")
    assert await own.client_kill_filter(_type="pubsub") == 1
    await until_delivered("after the kill")
    server.stop()
    await asyncio.sleep(2)  # ~20 failed reads: the log says so once per outage, no traceback each time
    server.start()
    await ready(port, own)
    await until_delivered("after the restart")
    assert (ann.connects, ben.connects) == (1, 1)
    log = proc.log.read_text()
    assert log.count("bus read failed") == log.count("bus read again after") == 2, log[-3000:]  # kill, restart
    assert "Traceback" not in log, log[-3000:]
    for client in (ann, ben):
        await client.close()
    await own.aclose()


async def test_a_password_is_sent_before_the_subscriptions_and_a_wrong_one_fails_the_read() -> None:
    port = free_port()
    server = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no",
                        "--requirepass", "s3cret"])
    server.start()
    try:
        client = aioredis.from_url(f"redis://:s3cret@127.0.0.1:{port}/0")
        await ready(port, client)
        sub = LeanSub("127.0.0.1", port, password="s3cret")
        sub.subscribe("c")
        await sub.connect()
        await asyncio.sleep(0.1)
        await client.publish("c", b"x")
        assert await sub.read(2.0, 10, 1000) == [(b"c", b"x")]
        sub.close()
        wrong = LeanSub("127.0.0.1", port, password="not-it")
        with pytest.raises(ResponseError):
            await wrong.read(1.0, 10, 1000)
        assert not wrong.connected
        await client.aclose()
    finally:
        server.stop()


async def test_a_lean_read_that_waits_asks_asyncio_for_no_loop(lone_redis: tuple[Throwaway, int],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The read waits on its connection's loop: `asyncio.get_running_loop()` is a getpid() on Python
    3.11, and once per wait it was ~2 % of a worker's samples (issue 18). Every frame still arrives.
    The frames are published from a thread."""
    _, port = lone_redis
    await (await ready(port)).aclose()
    sub = LeanSub("127.0.0.1", port)
    sub.subscribe("c")
    await sub.connect()
    publisher = syncredis.Redis(port=port)
    while publisher.pubsub_numsub("c") != [(b"c", 1)]:
        await asyncio.sleep(0.01)
    looked_up = 0
    real = asyncio.get_running_loop

    def counting() -> asyncio.AbstractEventLoop:  # asked from leansub.py (other tests' leftovers may share the loop)
        nonlocal looked_up
        looked_up += sys._getframe(1).f_globals["__name__"] == LeanSub.__module__
        return real()

    def publish_slowly() -> None:
        for n in range(20):  # one at a time, so that nearly every read waits for its frame
            time.sleep(0.01)
            publisher.publish("c", b"%d" % n)

    monkeypatch.setattr(asyncio, "get_running_loop", counting)
    thread = threading.Thread(target=publish_slowly)
    thread.start()
    got: list[tuple[bytes, bytes]] = []
    while len(got) < 20:
        got += await sub.read(2.0, 10, 1000)
    thread.join()
    assert got == [(b"c", b"%d" % n) for n in range(20)]
    assert looked_up == 0
    monkeypatch.undo()
    sub.close()
    publisher.close()


async def test_a_refused_subscription_is_tried_again_less_and_less_often_and_said_once(
        lone_redis: tuple[Throwaway, int], caplog: pytest.LogCaptureFixture) -> None:
    """A Redis that answers but refuses the SUBSCRIBE (an ACL user without channel permissions:
    NOPERM) is no outage that ends in a second: the subscription was made again every 0.1 s, a
    connection and a log line each time (~20 in 2 s). It backs off (0.1 s doubling, to 5 s), says so
    once, and once more when a connection's SUBSCRIBE is taken again."""
    _, port = lone_redis
    admin = await ready(port, aioredis.Redis(port=port))
    await admin.execute_command("ACL", "SETUSER", "hub", "on", ">pw", "~*", "+@all", "resetchannels")
    sub = LeanSub("127.0.0.1", port, username="hub", password="pw")
    sub.subscribe("c")
    caplog.set_level("INFO", logger="spotctl_sandbox.leansub")

    async def read_as_the_hub_does(seconds: float) -> list[bytes]:
        """node.py's read loop: a failed read is tried again 0.1 s later."""
        got: list[bytes] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got += [payload for _, payload in await sub.read(0.2, 10, 1000)]
            except RedisError:
                await asyncio.sleep(0.1)
        return got

    def connections() -> int:
        return int(admin_info["total_connections_received"])

    admin_info = await admin.info("stats")
    before = connections()
    assert await read_as_the_hub_does(2.0) == []
    admin_info = await admin.info("stats")
    attempts = connections() - before
    said = [r.getMessage() for r in caplog.records]
    assert 3 <= attempts <= 6, f"{attempts} connections in 2 s: {said}"
    assert len(said) == 1 and "refused" in said[0], said

    await admin.execute_command("ACL", "SETUSER", "hub", "allchannels")
    caplog.clear()
    heard: list[bytes] = []
    deadline = time.monotonic() + 10  # the next try is at most 5 s away
    while not heard and time.monotonic() < deadline:
        await admin.publish("c", b"x")
        heard = await read_as_the_hub_does(0.3)
    assert heard and set(heard) == {b"x"}
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "again" in said[0], said
    sub.close()
    await admin.aclose()


def test_refusals_are_tried_again_later_and_later_up_to_a_bound_and_start_over_once_taken() -> None:
    refusals = Refusals(first_s=0.1, cap_s=5.0)
    assert refusals.wait_s(0.0) == 0.0 and refusals.taken(0.0) is None       # nothing refused: try at once
    assert refusals.refused(10.0) is True                                     # the run begins: said
    waits = [refusals.wait_s(10.0)]
    for _ in range(8):
        assert refusals.refused(20.0) is False                                # the same run: not said again
        waits.append(refusals.wait_s(20.0))
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert refusals.wait_s(30.0) == 0.0                                       # its time came
    assert refusals.taken(31.5) == 21.5                                       # how long the run lasted
    assert refusals.wait_s(31.5) == 0.0 and refusals.taken(32.0) is None
    assert refusals.refused(40.0) is True and refusals.wait_s(40.0) == pytest.approx(0.1)  # a new run starts over
