"""Time a process spends not serving: garbage-collection pauses and event-loop lag.

A latency tail on a half-idle box is not a full CPU but a process that stopped answering for a while:
a collection walking every long-lived object (a hub worker or a load generator holding ~17k
connections keeps millions of them), or one callback that ran long and held the loop. Both are
measured where they happen and handed to a sink (the hub's Prometheus histograms, the load
generator's per-report figures): `GcPauses` times each collection through `gc.callbacks`;
`lateness` is how late a periodic timer woke, the time the loop was busy with something else.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

Sink = Callable[[int, float], None]  # (generation, seconds)

LAG_EVERY_S = 0.05  # a stall of this or longer is always seen; 20 wake-ups/s cost next to nothing


class GcPauses:
    """Calls `sink(generation, seconds)` after every collection of this process (install once)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            self.sink(int(info.get("generation", 0)), time.perf_counter() - self._started)
            self._started = 0.0

    def install(self) -> GcPauses:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def lateness(due: float, now: float) -> float:
    """Seconds a timer due at `due` ran late at `now` (never negative: an early wake-up is on time)."""
    return max(0.0, now - due)


class Tally:
    """Pauses of one kind since the process started, and the longest since the last `take_max()`."""

    def __init__(self, long_s: float = 0.02) -> None:
        self.long_s = long_s
        self.count = 0
        self.seconds = 0.0
        self.long = 0        # pauses of `long_s` or more
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        self.long += seconds >= self.long_s
        self.max_s = max(self.max_s, seconds)

    def take_max(self) -> float:
        longest, self.max_s = self.max_s, 0.0
        return longest
