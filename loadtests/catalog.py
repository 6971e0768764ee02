"""The scenarios `spotctl load run` knows: file, what they aim at, what they measure, defaults.

Default message rates stay within the hub's documented limits (docs/hub-protocol.md): a sender
uses at most half of what one connection may send (`HUB_CONN_RATE`, and `HUB_USER_RATE` per user),
so heartbeats and replies never tip a default run into `rate_limited` errors and 1013 closes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path

LOCUSTFILES_DIR = Path(__file__).resolve().parent / "locustfiles"
HEADROOM = 0.5  # share of the hub's per-connection rate a default sender uses


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    targets: tuple[str, ...]       # first is the default
    measures_latency: bool
    msg_rate: float = 0.0          # default messages/s published in total (capped by the hub's limits)
    room_size: int = 50
    senders: str = ""              # who sends frames to the hub: "leaders" (one per room), "members" or nobody
    frames_per_message: int = 1    # chat sends a typing indicator before each message

    @property
    def file(self) -> Path:
        return LOCUSTFILES_DIR / f"{self.name}.py"

    @property
    def protocol(self) -> str:
        return "http" if self.targets == ("api",) else "ws"

    def sender_count(self, users: int, room_size: int) -> int:
        if self.senders == "leaders":
            return max(1, users // max(1, room_size))  # the publishers split the rate by this (users.py)
        return max(1, users) if self.senders == "members" else 0

    def frames_per_sender(self, msg_rate: float, users: int, room_size: int) -> float:
        """Frames per second each sending connection offers the hub at `msg_rate` messages/s in total."""
        senders = self.sender_count(users, room_size)
        return msg_rate * self.frames_per_message / senders if senders else 0.0

    def max_rate(self, users: int, room_size: int, per_connection: float) -> float | None:
        """Messages/s in total at which each sender uses HEADROOM of the hub's per-connection limit."""
        senders = self.sender_count(users, room_size)
        if not senders:
            return None
        return math.floor(senders * per_connection * HEADROOM / self.frames_per_message * 100) / 100

    def default_rate(self, users: int, room_size: int, per_connection: float) -> float:
        """The scenario's rate, lowered so no sender offers more than HEADROOM of the hub's limit."""
        cap = self.max_rate(users, room_size, per_connection)
        return self.msg_rate if cap is None else min(self.msg_rate, cap)


def hub_rate_limit(env: dict[str, str] | None = None) -> float:
    """Frames/s one connection of one user may send the hub: the lower of HUB_CONN_RATE and HUB_USER_RATE,
    read as the hub reads them (its own defaults unless the environment overrides them)."""
    from limits import parse

    from spotctl_sandbox.hub.config import HubConfig

    source = {**os.environ, **(env or {})}
    defaults: dict[str, object] = {f.name: f.default for f in fields(HubConfig)}
    conn = float(str(source.get("HUB_CONN_RATE") or defaults["conn_rate"]))
    item = parse(str(source.get("HUB_USER_RATE") or defaults["user_rate"]))
    return min(conn, item.amount / item.get_expiry())


def over_limit_advice(scenario: Scenario, msg_rate: float, users: int, room_size: int, limit: float) -> str:
    """A warning when `msg_rate` makes a sender offer more than the hub accepts per connection, else ""."""
    per_sender = scenario.frames_per_sender(msg_rate, users, room_size)
    if per_sender <= limit:
        return ""
    fits = scenario.max_rate(users, room_size, limit)
    return (f"{msg_rate:g} msgs/s makes each sender offer {per_sender:.0f} frames/s; the hub accepts {limit:g}/s "
            f"per connection and closes a connection (1013) after 20 rejected frames in 10 s: expect drops. "
            f"--msg-rate {fits:g} fits (or use smaller rooms, or raise HUB_CONN_RATE / HUB_USER_RATE on the hub)")


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("connections", "ramp to N WebSocket connections, hold them with heartbeats, count drops",
             ("hub", "node-ws", "socketio"), measures_latency=False),
    Scenario("latency", "rooms of members; leaders publish on a schedule, probes time every delivery",
             ("hub", "node-ws", "socketio", "relay-floor"), measures_latency=True, msg_rate=100.0, room_size=50,
             senders="leaders"),
    Scenario("chat", "chat channels: messages, typing, presence and history queries",
             ("hub",), measures_latency=True, msg_rate=20.0, room_size=20, senders="members", frames_per_message=2),
    Scenario("notifications", "priority mix of notifications per user: delivery time and order",
             ("hub",), measures_latency=True, msg_rate=50.0, room_size=1),
    Scenario("api", "HTTP mix of flows 1 (play), 4 (create playlist) and 5 (search)",
             ("api",), measures_latency=True),
)}
