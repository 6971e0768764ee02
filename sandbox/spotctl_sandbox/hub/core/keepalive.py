"""Keepalive pings spread over one interval by a wheel, instead of one sleeping task per connection.

websockets' own keepalive runs a task per connection (a sleep, a ping future, a timeout, a send lock):
~285 µs of a worker's CPU per ping, so 100,000 idle connections pinged every 30 s cost about one of
this machine's two cores. The wheel visits each connection once per interval from the worker's tick:
the visit checks that something arrived since the previous ping, then writes a pre-serialized ping.
Pure: it decides who is due; the hub does the writing and the closing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class PingWheel(Generic[T]):
    """Each round takes a snapshot of the connections and hands it out in even slices over `interval_s`.

    A connection opened during a round waits for the next one (its first ping comes within two
    intervals); one closed during a round is still handed out, and the caller skips it.
    """

    interval_s: float
    _round: list[T] = field(default_factory=list)
    _next: int = 0
    _started: float = -math.inf

    def due(self, conns: Iterable[T], now: float) -> list[T]:
        """The connections to visit at `now`: the share of this round that time has reached."""
        if self._next >= len(self._round) and now - self._started >= self.interval_s:
            self._round, self._next, self._started = list(conns), 0, now
        if not self._round:
            return []
        elapsed = (now - self._started) / self.interval_s if self.interval_s > 0 else 1.0
        upto = min(len(self._round), math.ceil(len(self._round) * elapsed))
        batch = self._round[self._next:upto]
        self._next = max(self._next, upto)
        return batch


def lone_pong(data: bytes) -> bool:
    """Whether `data` is exactly one client pong: FIN, no RSV bits, masked, a payload of at most 125 bytes.

    Answers to the wheel's pings arrive like this, one read each; the hub takes them without the
    WebSocket parser (see `HubConnection.data_received`).
    """
    return (len(data) >= 6 and data[0] == 0x8A and data[1] & 0x80 == 0x80
            and data[1] & 0x7F < 126 and len(data) == 6 + (data[1] & 0x7F))
