"""chat: a realistic chat mix on the hub's channels: messages with typing indicators, presence
changes and history queries, in public channels of `room_size` members.

Each room's leader creates the channel and the members join it; every member then talks at an equal
share of `msg_rate` (open loop, scheduled time in the text) with a typing indicator before each
message, loads history when the channel opens and about once a minute after, and goes online/away
about every two minutes. Probes time each chat message from its scheduled send time;
history and the other requests are timed as Locust requests.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import gevent
from gevent.event import AsyncResult
from locust import events

from loadtests.hubusers import HubUser
from loadtests.hubwire import envelope
from loadtests.metrics import COUNTERS, RAMPED
from loadtests.users import install
from loadtests.wire import Decoded, Kind
from loadtests.wsclient import WsConnection

HISTORY_EVERY_S = 60.0
PRESENCE_EVERY_S = 120.0
CHANNELS: dict[str, AsyncResult] = {}   # room -> channel id (rooms are local to this process)


def stamp(scheduled: float, seq: int) -> str:
    return f"load t={scheduled:.6f} s={seq} the quick brown fox jumps over the lazy dog"


def scheduled_of(text: str) -> float | None:
    if not text.startswith("load t="):
        return None
    return float(text[7:].split(" ", 1)[0])


class ChatMember(HubUser):
    room_publisher = False  # everyone talks through chat_message instead
    channel_id = 0

    @property
    def room(self) -> str:
        """Channels are local to a worker: the leader hands the channel id to its members in-process."""
        return f"{self.config.run_id}-w{self.config.worker_index}-c{self.index // max(1, self.config.room_size)}"

    @property
    def is_leader(self) -> bool:
        return self.index % max(1, self.config.room_size) == 0

    def after_connect(self, conn: WsConnection) -> None:
        result = CHANNELS.setdefault(self.room, AsyncResult())
        if self.is_leader and not result.ready():
            reply = self.call(conn, "channel_create", {"kind": "public", "name": self.room})
            result.set(int(reply["channel"]["id"]))
            self.channel_id = result.get()
            return
        self.channel_id = int(result.get(timeout=60))
        self.call(conn, "channel_join", {"channel_id": self.channel_id})

    def start_side_tasks(self) -> None:
        super().start_side_tasks()
        rate = self.config.msg_rate / max(1, self.config.users)
        if rate > 0:
            self.greenlets.append(gevent.spawn(self.talk, rate))
        self.greenlets.append(gevent.spawn(self.every, HISTORY_EVERY_S, self.query_history))
        self.greenlets.append(gevent.spawn(self.every, PRESENCE_EVERY_S, self.flip_presence))

    def talk(self, rate: float) -> None:
        RAMPED.wait()
        interval = 1.0 / rate
        scheduled = time.time() + random.uniform(0, interval)
        for seq in itertools.count():
            delay = scheduled - time.time()
            if delay > 0:
                gevent.sleep(delay)
            self.safe_send(envelope("typing", {"channel_id": self.channel_id, "typing": True}))  # no reply
            self.request("chat_message", {"channel_id": self.channel_id, "text": stamp(scheduled, seq)})
            COUNTERS.sent += 1
            scheduled += interval

    def every(self, period: float, action: Any) -> None:
        """Once when the channel opens (as an app does), then about every `period` seconds."""
        RAMPED.wait()
        while True:
            action()
            gevent.sleep(period * random.uniform(0.5, 1.5))

    def query_history(self) -> None:
        self.request("history", {"channel_id": self.channel_id, "limit": 20})

    def flip_presence(self) -> None:
        self.request("presence", {"status": "online"})
        gevent.sleep(random.uniform(0.3, 0.7) * PRESENCE_EVERY_S)
        self.request("presence", {"status": "away"})

    def on_frame(self, decoded: Decoded) -> None:
        if decoded.kind is Kind.DELIVERY and decoded.type == "chat_message":
            COUNTERS.messages += 1
            if self.probe:
                scheduled = scheduled_of(str(decoded.data.get("text", "")))
                if scheduled is not None:
                    self.record(time.time() - scheduled)
            return
        super().on_frame(decoded)


@events.init.add_listener
def _install(environment: Any, **_: Any) -> None:
    install(environment, measures_latency=True)
