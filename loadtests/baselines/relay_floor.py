"""The hub's per-message duties and nothing else, on picows: the floor a Python hub could reach.

Issue 18 asks the hub for 1.5× one Node `ws` process and ≤ 6 µs of CPU per delivery. This baseline
speaks node-ws/server.js's wire (`subscribe` / `publish` / `message`) but does, per message, what
the hub cannot skip: a per-user rate check in Redis, a durable publish (stream + pub/sub, the hub's
own script), and in every worker a read of the bus, a decode of the envelope and one frame to each
local member of the room — with the cheapest parts at hand: picows (frames parsed and built in C) on
uvloop, orjson, the hub's lean Redis connection and subscription. Left out: authentication, schema
checks, replies, metrics, activity counts, breakers, backpressure, priorities, keepalive. So its
figures are a lower bound for the hub's, not a design (docs/BENCHMARKS.md, issue 18, "Run 10 and the
floor").

Env: PORT, REDIS_URL, RELAY_WORKERS (2: the hub's count in node-vs-hub), HOST. GET /health answers 200.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from typing import Any

import orjson
import redis.asyncio as aioredis
from picows import WSListener, WSMsgType, WSUpgradeResponse, WSUpgradeResponseWithListener, ws_create_server

from spotctl_sandbox.common import leanredis
from spotctl_sandbox.common.leansub import LeanSub, Message
from spotctl_sandbox.hub.userlimit import UserLimit
from spotctl_sandbox.realtime import bus, keys, protocol
from spotctl_sandbox.realtime.topics import Topic

NS = "floor"
USER_RATE = "100000/second"  # checked in Redis per message, like the hub's; out of the scenario's way
SHARED_PORT = hasattr(socket, "SO_REUSEPORT")  # workers share the port (Linux); one worker elsewhere
HEALTH = WSUpgradeResponse.create_ok_response(b'{"status":"ok"}')


class Relay:
    """One worker's rooms, its Redis connection and subscription."""

    def __init__(self, redis_url: str, worker: int) -> None:
        client = aioredis.from_url(redis_url)
        lean = leanredis.beside(client, 1.0)  # the hub's own way to its lean connection (hub/worker.py)
        if lean is None:
            raise SystemExit(f"relay-floor needs one Redis over plain TCP, not {redis_url}")
        self.lean, self.sub = lean, LeanSub.beside(lean)
        self.limit = UserLimit(client, USER_RATE, lean)
        self.rooms: dict[bytes, dict[str, Any]] = {}  # bus channel -> {connection id: transport} here
        self.worker, self.ids = worker, itertools.count()

    def join(self, conn_id: str, transport: Any, room: str) -> bytes:
        channel = keys.channel(NS, Topic.room(room))
        self.rooms.setdefault(channel.encode(), {})[conn_id] = transport
        self.sub.subscribe(channel)
        return channel.encode()

    async def publish(self, conn_id: str, room: str, data: Any) -> None:
        """The sender's worker: the per-user check, then the durable publish (both in Redis)."""
        if await self.limit.hit(NS, conn_id, time.time()) is not None:
            return
        topic = Topic.room(room)
        body = protocol.body("room_message", {"room": room, "data": data}, topic=str(topic), origin=conn_id)
        await bus.publish_lean(self.lean, NS, topic, protocol.dumps(body), durable=True)

    def fan_out(self, burst: list[Message]) -> None:
        """Every worker: decode each envelope once, one frame to each local member but the sender."""
        for channel, payload in burst:
            members = self.rooms.get(channel)
            if not members:
                continue
            content = orjson.loads(protocol.split_payload(payload)[1])
            data = orjson.dumps({"type": "message", "room": content["content"]["room"],
                                 "data": content["content"]["data"]})
            origin = content.get("origin")
            for conn_id, transport in members.items():
                if conn_id != origin:
                    transport.send(WSMsgType.TEXT, data)


class Listener(WSListener):
    def __init__(self, relay: Relay) -> None:
        self.relay, self.id = relay, f"{relay.worker}-{next(relay.ids)}"
        self.channels: list[bytes] = []

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
        if frame.msg_type != WSMsgType.TEXT:
            return
        msg = orjson.loads(frame.get_payload_as_bytes())
        room = msg.get("room")
        if not isinstance(room, str):
            return
        if msg.get("type") == "subscribe":
            self.channels.append(self.relay.join(self.id, transport, room))
            transport.send(WSMsgType.TEXT, orjson.dumps({"type": "subscribed", "room": room}))
        elif msg.get("type") == "publish":
            asyncio.get_running_loop().create_task(self.relay.publish(self.id, room, msg.get("data")))

    def on_ws_disconnected(self, transport: Any) -> None:
        for channel in self.channels:
            self.relay.rooms.get(channel, {}).pop(self.id, None)


def serve(host: str, port: int, redis_url: str, worker: int) -> None:
    try:
        import uvloop
    except ImportError:  # Windows: asyncio's own loop
        asyncio.run(_serve(host, port, Relay(redis_url, worker)))
    else:
        uvloop.run(_serve(host, port, Relay(redis_url, worker)))


async def _serve(host: str, port: int, relay: Relay) -> None:
    def route(request: Any) -> Any:
        return WSUpgradeResponseWithListener(HEALTH, None) if request.path == b"/health" else Listener(relay)

    server = await ws_create_server(route, host, port, reuse_port=SHARED_PORT)
    async with server:
        while True:
            relay.fan_out(await relay.sub.read(1.0, 1000, 256 * 1024))


def main() -> None:
    """RELAY_WORKERS processes on PORT (SO_REUSEPORT, like the hub's workers; one where there is no
    such option) until SIGTERM or SIGINT."""
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8782"))
    workers = int(os.environ.get("RELAY_WORKERS", "2")) if SHARED_PORT else 1
    procs = [mp.Process(target=serve, args=(host, port, os.environ["REDIS_URL"], i), daemon=True)
             for i in range(workers)]
    for proc in procs:
        proc.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # set after the workers started: theirs stay the default
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5) and all(proc.is_alive() for proc in procs):
        pass
    for proc in procs:
        proc.terminate()


if __name__ == "__main__":
    main()
