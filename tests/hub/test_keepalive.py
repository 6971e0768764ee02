"""Keepalive: the hub's ping wheel pings every connection once per heartbeat interval, keeps those that
answer and closes one that stays silent (1011), like websockets' own keepalive did, at a fraction of
its cost."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State
from websockets.uri import parse_uri

from spotctl_sandbox.hub.core.keepalive import PingWheel

from .conftest import Hub, HubProcess, metric_totals, token, until

INTERVAL = 0.5


def test_the_wheel_hands_out_every_connection_once_per_interval_in_even_slices() -> None:
    wheel: PingWheel[int] = PingWheel(interval_s=10.0)
    conns = list(range(100))
    assert wheel.due(conns, now=0.0) == []  # a round starts; nothing is due yet
    first = wheel.due(conns, now=2.5)
    assert first == list(range(25))
    rest = [c for t in (5.0, 7.5, 10.0) for c in wheel.due(conns + [100], now=t)]
    assert rest == list(range(25, 100))  # the newcomer (100) waits for the next round
    assert wheel.due(conns + [100], now=10.1) == []  # the next round starts with a fresh snapshot
    assert sorted(c for t in (12.0, 15.0, 20.1) for c in wheel.due(conns + [100], now=t)) == list(range(101))


def test_a_late_tick_catches_up_instead_of_skipping_anyone() -> None:
    wheel: PingWheel[str] = PingWheel(interval_s=1.0)
    wheel.due(["a", "b", "c", "d"], now=0.0)
    assert wheel.due(["a", "b", "c", "d"], now=5.0) == ["a", "b", "c", "d"]


class PingCounter(ClientConnection):
    pings = 0

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings += 1
        super().process_event(event)


@pytest.mark.stack
async def test_an_answering_client_stays_and_a_silent_one_is_closed(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None,
        hub_factory: Callable[..., HubProcess]) -> None:
    quick = hub_factory(WS_HEARTBEAT_INTERVAL=str(INTERVAL)).start()

    # websockets answers pings by itself, without the application reading.
    url = f"{quick.url}?token={await token(redis, hub, f'live-{ns}')}&ns={ns}"
    live = await connect(url, ping_interval=None, create_connection=PingCounter)

    # A peer that completes the upgrade and then never reads or writes again.
    silent_url = f"{quick.url}?token={await token(redis, hub, f'silent-{ns}')}&ns={ns}"
    protocol = ClientProtocol(parse_uri(silent_url))
    protocol.send_request(protocol.connect())
    silent = await asyncio.to_thread(socket.create_connection, ("127.0.0.1", quick.port))
    silent.sendall(b"".join(protocol.data_to_send()))
    await until(lambda: metric_totals(f"http://127.0.0.1:{quick.metrics_port}", "hub_connections").get("") == 2)

    metrics_url = f"http://127.0.0.1:{quick.metrics_port}"
    await until(lambda: metric_totals(metrics_url, "hub_keepalive_timeouts_total").get("", 0) >= 1, timeout=10)
    await until(lambda: metric_totals(metrics_url, "hub_connections").get("") == 1, timeout=10)

    assert isinstance(live, PingCounter) and live.pings >= 2
    assert live.protocol.state is State.OPEN
    assert metric_totals(metrics_url, "hub_keepalive_timeouts_total")[""] == 1
    await live.send('{"type": "ping", "id": "p"}')
    replies = [json.loads(await asyncio.wait_for(live.recv(), 5)) for _ in range(2)]  # welcome, then pong
    assert [r["type"] for r in replies] == ["welcome", "pong"]
    await live.close()
    silent.close()
