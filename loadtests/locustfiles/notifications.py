"""notifications: a priority mix sent to connected users (by loadtests/notifier.py), measuring
delivery time from the scheduled send time and order within each priority.

LOW notifications arrive coalesced in `notification_batch` frames every couple of seconds by design,
so they are timed under their own Locust name and kept out of the p99 gate; NORMAL, HIGH and
CRITICAL feed the HDR histogram. A sequence number lower than one already seen at the same priority
counts as out of order.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from locust import events

from loadtests.hubusers import HubUser
from loadtests.metrics import COUNTERS
from loadtests.users import install
from loadtests.wire import Decoded, Kind
from loadtests.wsclient import WsConnection


class Recipient(HubUser):
    room_publisher = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.last_seq: Counter[str] = Counter()

    def after_connect(self, conn: WsConnection) -> None:
        """Only the WebSocket channel: push and email would pile jobs onto the shared queues."""
        self.call(conn, "preferences", {"channels": ["websocket"]})

    def on_frame(self, decoded: Decoded) -> None:
        if decoded.kind is not Kind.NOTIFICATION:
            super().on_frame(decoded)
            return
        now = time.time()
        for item in decoded.data:
            data = item.get("data") or {}
            if "ts" not in data:
                continue  # not one of ours
            COUNTERS.messages += 1
            priority, seq = str(data.get("priority", item.get("priority"))), int(data["seq"])
            if seq < self.last_seq[priority]:
                COUNTERS.out_of_order += 1
            self.last_seq[priority] = max(self.last_seq[priority], seq)
            latency = now - float(data["ts"])
            if priority == "LOW":
                self.environment.events.request.fire(request_type="WS", name="notification LOW (batched)",
                                                     response_time=latency * 1000, response_length=0,
                                                     exception=None, context={})
            else:
                COUNTERS.record_latency(latency)
                self.environment.events.request.fire(request_type="WS", name=f"notification {priority}",
                                                     response_time=latency * 1000, response_length=0,
                                                     exception=None, context={})


@events.init.add_listener
def _install(environment: Any, **_: Any) -> None:
    install(environment, measures_latency=True)
