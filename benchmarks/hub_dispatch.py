"""Benchmark of the hub's fan-out step in one process (not a test): CPU per delivery of decoding a burst
from the bus, planning it (`hub/core/fanout.py`) and handing each subscriber its bytes — no sockets,
so the figure is the Python cost the hub adds to each socket write, without the kernel's.

    .venv/bin/python benchmarks/hub_dispatch.py --subscribers 1000 --burst 50 --rounds 100

`benchmarks/hub_fanout.py` measures the whole path with real sockets and clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any, cast

import redis.asyncio as aioredis
from websockets.protocol import State

from spotctl_sandbox.common.settings import Settings
from spotctl_sandbox.hub.config import HubConfig
from spotctl_sandbox.hub.conn import Conn
from spotctl_sandbox.hub.core.fanout import Published
from spotctl_sandbox.hub.core.ratelimit import ConnectionLimiter
from spotctl_sandbox.hub.node import Hub
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.topics import Topic


class Transport:
    """Takes writes and is never behind: the cost measured is the hub's, not the kernel's."""

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        pass


class Socket:
    def __init__(self) -> None:
        self.transport = Transport()
        self.protocol = type("Protocol", (), {"state": State.OPEN})()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=50, help="published frames per dispatch")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    hub = Hub(HubConfig(settings=Settings()), aioredis.Redis(), worker=0)  # never connects: no I/O here
    channel = keys.channel("bench", Topic.room("r"))
    hub.registry.subs[channel] = {
        Conn(id=f"c{i}", ns="bench", user_id=f"u{i}", name="n", ws=cast(Any, Socket()),
             limiter=ConnectionLimiter.create(10, 10), connected_ms=0.0) for i in range(args.subscribers)}
    def payload(k: int) -> bytes:
        body = protocol.body("room_message", {"room": "r", "from": "x", "data": {"t": k}}, topic="room:r", priority=1)
        return protocol.bus_payload(f"1-{k}", json.dumps(body)).encode()

    bursts = [[(channel, payload(k)) for k in range(args.burst)] for _ in range(args.rounds)]
    started = time.process_time()
    for burst in bursts:
        hub.dispatch([Published.decode(ch, payload) for ch, payload in burst])
    cpu = time.process_time() - started
    deliveries = args.rounds * args.burst * args.subscribers
    print(json.dumps({"subscribers": args.subscribers, "burst": args.burst, "rounds": args.rounds,
                      "deliveries": deliveries, "cpu_us_per_delivery": round(cpu / deliveries * 1e6, 3)}))


if __name__ == "__main__":
    asyncio.run(main())
