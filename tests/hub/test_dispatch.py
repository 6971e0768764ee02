"""The worker's fan-out step on its own: a burst from Redis leaves in priority order, one write per
connection, and slow consumers lose only low-priority frames."""

from __future__ import annotations

import json
from typing import Any, cast

import redis.asyncio as aioredis
from websockets.protocol import State

from spotctl_sandbox.common.settings import Settings
from spotctl_sandbox.hub import keys
from spotctl_sandbox.hub.config import HubConfig
from spotctl_sandbox.hub.core.ratelimit import ConnectionLimiter
from spotctl_sandbox.hub.hub import Conn, Hub
from spotctl_sandbox.hub.protocol import envelope


class Transport:
    def __init__(self, buffered: int = 0) -> None:
        self.writes: list[bytes] = []
        self.buffered = buffered

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def frames(self) -> list[dict[str, Any]]:
        """Decode the unmasked text frames written so far (payloads < 126 bytes or 16-bit lengths)."""
        data, out = b"".join(self.writes), []
        while data:
            size, start = data[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(data[2:4], "big"), 4
            out.append(json.loads(data[start:start + size]))
            data = data[start + size:]
        return out


class Socket:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.protocol = type("P", (), {"state": State.OPEN})()


def connection(hub: Hub, transport: Transport, conn_id: str) -> Conn:
    conn = Conn(id=conn_id, ns="t", user_id=conn_id, name=conn_id, ws=cast(Any, Socket(transport)),
                limiter=ConnectionLimiter.create(10, 10), connected_ms=0.0)
    hub.subs.setdefault(keys.channel("t", "room:r"), set()).add(conn)
    return conn


def published(kind: str, priority: int, text: str) -> dict[str, Any]:
    body = json.dumps(envelope.body(kind, {"text": text}, topic="room:r", priority=priority))
    return {"type": "message", "channel": keys.channel("t", "room:r").encode(), "data": f"1-{priority} {body}"}


def make_hub(**config: Any) -> Hub:
    return Hub(HubConfig(settings=Settings(), **config), aioredis.Redis(), worker=0)


def test_a_burst_is_written_highest_priority_first_in_one_write() -> None:
    hub, transport = make_hub(), Transport()
    connection(hub, transport, "c1")
    hub.dispatch([published("room_message", 1, "normal"), published("room_message", 3, "critical"),
                  published("room_message", 0, "low"), published("room_message", 2, "high")])
    assert len(transport.writes) == 1
    assert [f["content"]["text"] for f in transport.frames()] == ["critical", "high", "normal", "low"]


def test_a_reader_that_stays_backlogged_keeps_only_high_priority_frames() -> None:
    hub = make_hub(send_buffer_grace_s=0.0)
    fast, slow = Transport(), Transport(buffered=hub.cfg.send_buffer_soft + 1)
    connection(hub, fast, "fast")
    connection(hub, slow, "slow")
    hub.dispatch([published("room_message", 1, "normal"), published("room_message", 2, "high")])
    assert [f["content"]["text"] for f in fast.frames()] == ["high", "normal"]
    assert [f["content"]["text"] for f in slow.frames()] == ["high"]


def test_a_backlog_younger_than_the_grace_period_loses_nothing() -> None:
    hub = make_hub(send_buffer_grace_s=60.0)
    bursty = Transport(buffered=hub.cfg.send_buffer_soft + 1)  # e.g. the last burst still in flight
    connection(hub, bursty, "bursty")
    hub.dispatch([published("room_message", 1, "normal"), published("room_message", 2, "high")])
    assert [f["content"]["text"] for f in bursty.frames()] == ["high", "normal"]
