"""Backpressure against a real hub: a client that stops reading loses NORMAL frames, then is closed once
HIGH ones push it past the hard limit, while a fast reader in the same room gets every frame."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from spotctl_sandbox.realtime import bus
from spotctl_sandbox.realtime.client import HubClient
from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.topics import Topic

from .conftest import Hub, HubProcess, metric_totals, next_of, token, until

pytestmark = pytest.mark.stack

PAYLOAD = "x" * 4_000
NORMAL_WAVES, HIGH_WAVES, PER_WAVE = 3, 2, 500  # 10 MB: more than a loopback socket's kernel buffers


async def test_a_slow_reader_is_shed_then_closed_while_a_fast_reader_gets_everything(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None,
        hub_factory: Callable[..., HubProcess]) -> None:
    small = hub_factory(HUB_SEND_BUFFER_SOFT=str(64 * 1024), HUB_SEND_BUFFER_HARD=str(2 * 1024 * 1024),
                        HUB_SEND_BUFFER_GRACE="0.2").start()
    fast = HubClient(small.url, await token(redis, hub, f"fast-{ns}"), namespace=ns)
    await fast.connect()
    await fast.request("join", {"room": "flood"})

    sock = socket.create_connection(("127.0.0.1", small.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow_url = f"{small.url}?token={await token(redis, hub, f'slow-{ns}')}&ns={ns}"
    # max_queue=1: once a frame waits unread, websockets stops reading the socket - a stalled app.
    slow = await connect(slow_url, sock=sock, max_queue=1, ping_interval=None)
    await slow.send(json.dumps({"type": "join", "id": "j", "content": {"room": "flood"}}))
    while json.loads(await slow.recv()).get("reply_to") != "j":
        pass

    got: list[int] = []
    for wave in range(NORMAL_WAVES + HIGH_WAVES):  # pauses longer than the grace period
        priority = Priority.NORMAL if wave < NORMAL_WAVES else Priority.HIGH  # HIGH is never shed
        for seq in range(wave * PER_WAVE, (wave + 1) * PER_WAVE):
            await bus.publish(redis, ns, Topic.room("flood"), "room_message",
                              {"room": "flood", "seq": seq, "data": PAYLOAD}, priority=int(priority))
        got += [(await next_of(fast, "room_message", timeout=20))["content"]["seq"] for _ in range(PER_WAVE)]
        await asyncio.sleep(0.3)
    assert got == list(range((NORMAL_WAVES + HIGH_WAVES) * PER_WAVE))
    metrics_url = f"http://127.0.0.1:{small.metrics_port}"
    counts = metric_totals(metrics_url, "hub_frames_shed_total", by="reason")
    assert counts.get("slow_consumer", 0) > 0 and counts.get("closed_slow_consumer", 0) == 1
    # The close frame queues behind the unread backlog, so the hub aborts the socket after its close
    # timeout: the hub's own gauge is the proof, and the fast reader's connection is the one left.
    await until(lambda: metric_totals(metrics_url, "hub_connections").get("") == 1, timeout=15)
    await fast.send("ping")
    assert (await next_of(fast, "pong"))["type"] == "pong"
    slow.transport.abort()
    await fast.close()
