"""Scale-out and resilience: fan-out between hub processes through Redis, graceful shutdown, and the
client's reconnect with resume from its last message id."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.realtime.publish import publish_notification

from .conftest import Hub, HubProcess, UserFactory, next_of, token

pytestmark = pytest.mark.stack


async def test_a_message_sent_on_one_hub_reaches_subscribers_on_another(
        user: UserFactory, extra_hubs: tuple[HubProcess, HubProcess]) -> None:
    one, two = extra_hubs
    alice, bob = await user("alice", url=one.url), await user("bob", url=two.url)
    await alice.request("join", {"room": "across"})
    await bob.request("join", {"room": "across"})
    await bob.request("room_message", {"room": "across", "data": {"hello": "from two"}})
    frame = await next_of(alice, "room_message")
    assert frame["content"]["data"] == {"hello": "from two"} and frame["content"]["from"] == bob.user_id


async def test_the_backend_notifies_a_user_on_whichever_hub_holds_them(
        user: UserFactory, redis: aioredis.Redis, ns: str, extra_hubs: tuple[HubProcess, HubProcess]) -> None:
    carol = await user("carol", url=extra_hubs[1].url)
    nid = await publish_notification(redis, carol.user_id, title="Hi", body="there",
                                     priority="HIGH", namespace=ns)
    frame = await next_of(carol, "notification")
    assert frame["id"] == nid and frame["content"]["priority"] == "HIGH"


async def test_shutdown_tells_clients_to_reconnect_and_they_resume(
        user: UserFactory, hub_factory: Callable[..., HubProcess], extra_hubs: tuple[HubProcess, HubProcess]) -> None:
    doomed = hub_factory().start()
    alice = await user("alice", url=doomed.url, backoff_initial=0.2)
    sender = await user("sender", url=extra_hubs[0].url)
    await alice.request("join", {"room": "resume"})
    await sender.request("join", {"room": "resume"})
    await sender.request("room_message", {"room": "resume", "data": 1})
    assert (await next_of(alice, "room_message"))["content"]["data"] == 1
    seen_before = alice.last_id

    assert doomed.stop() == 0  # SIGTERM: graceful
    notice = await next_of(alice, "reconnect")
    assert notice["content"]["reason"] == "server shutting down"
    for n in (2, 3):  # published while alice is away
        await sender.request("room_message", {"room": "resume", "data": n})

    doomed.start()  # same port: the client's backoff loop finds it again
    replayed = [(await next_of(alice, "room_message", timeout=15))["content"]["data"] for _ in range(2)]
    assert replayed == [2, 3] and alice.connects == 2 and alice.last_id != seen_before
    await sender.request("room_message", {"room": "resume", "data": 4})
    assert (await next_of(alice, "room_message"))["content"]["data"] == 4  # live again, no duplicates


async def test_a_silent_peer_is_dropped_by_the_heartbeat(
        hub_factory: Callable[..., HubProcess], redis: aioredis.Redis, ns: str) -> None:
    quick = hub_factory(WS_HEARTBEAT_INTERVAL="1").start()
    tok = await token(redis, quick_hub(quick), f"silent-{ns}")
    reader, writer = await asyncio.open_connection("127.0.0.1", quick.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /ws?token={tok}&ns={ns} HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    started = time.monotonic()
    received = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 15):  # never answer a ping
        received += chunk
    assert received.startswith(b"HTTP/1.1 101") and b'"type":"welcome"' in received
    assert b"\x89" in received  # the hub pinged us ...
    assert 1.0 <= time.monotonic() - started < 10  # ... and hung up when no pong came
    writer.close()


def quick_hub(proc: HubProcess) -> Hub:
    return Hub(proc.url, f"http://127.0.0.1:{proc.metrics_port}", proc.env)
