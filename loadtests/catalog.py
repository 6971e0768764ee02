"""The scenarios `spotctl load run` knows: file, what they aim at, what they measure, defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOCUSTFILES_DIR = Path(__file__).resolve().parent / "locustfiles"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    targets: tuple[str, ...]       # first is the default
    measures_latency: bool
    msg_rate: float = 0.0          # default messages/s published in total
    room_size: int = 50

    @property
    def file(self) -> Path:
        return LOCUSTFILES_DIR / f"{self.name}.py"


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("connections", "ramp to N WebSocket connections, hold them with heartbeats, count drops",
             ("hub", "node-ws", "socketio"), measures_latency=False),
    Scenario("latency", "rooms of members; leaders publish on a schedule, probes time every delivery",
             ("hub", "node-ws", "socketio"), measures_latency=True, msg_rate=100.0, room_size=50),
    Scenario("chat", "chat channels: messages, typing, presence and history queries",
             ("hub",), measures_latency=True, msg_rate=20.0, room_size=20),
    Scenario("notifications", "priority mix of notifications per user: delivery time and order",
             ("hub",), measures_latency=True, msg_rate=50.0, room_size=1),
    Scenario("api", "HTTP mix of flows 1 (play), 4 (create playlist) and 5 (search)",
             ("api",), measures_latency=True),
)}
