"""connections: ramp to N WebSocket connections and hold them with heartbeats; count what drops.

Each user joins a room so the server holds real subscriptions, but nobody publishes: the figures are
connects, handshake failures (after retries) and drops while held.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadtests.users import WsUser, install


class Holder(WsUser):
    """Connect, join, heartbeat; nothing published (the scenario's msg_rate is 0)."""


@events.init.add_listener
def _install(environment: Any, **_: Any) -> None:
    install(environment, measures_latency=False)
