"""Prometheus metrics of one worker, every series labelled `worker`.

Workers write through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the
supervisor); the supervisor's /metrics merges them. Children are cached: a label lookup per frame
would cost more than the frame.

The per-message series (frames in and out, the delivery histogram) are counted here in plain numbers
and added to their children by `flush()`, which the hub's tick calls every 0.25 s: each multiprocess
`inc` takes a lock, asks the kernel for the pid (`getpid`, to notice a fork) and writes the mmap, which
was ~3 % of a loaded worker's profile (issue 18). A series still appears on /metrics at its first use
(its child is made then); its count may trail by one tick.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from ..common import pauses

CONNECTIONS = Gauge("hub_connections", "Open WebSocket connections", ["worker"], multiprocess_mode="livesum")
SUBSCRIPTIONS = Gauge("hub_subscriptions", "Redis channels subscribed", ["worker"], multiprocess_mode="livesum")
MESSAGES_IN = Counter("hub_messages_in_total", "Frames received from clients", ["worker", "type"])
MESSAGES_OUT = Counter("hub_messages_out_total", "Frames written to clients", ["worker", "type"])
DELIVERY = Histogram("hub_delivery_latency_seconds", "Publish to written-to-all-local-sockets",
                     ["worker"], buckets=(.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5))
SHED = Counter("hub_frames_shed_total", "Frames dropped for slow consumers", ["worker", "reason"])
KEEPALIVE_TIMEOUTS = Counter("hub_keepalive_timeouts_total", "Connections closed: no answer to a ping",
                             ["worker"])
AUTH_FAILURES = Counter("hub_auth_failures_total", "Rejected authentications", ["worker"])
RATE_LIMITED = Counter("hub_rate_limited_total", "Frames rejected by rate limits", ["worker", "scope"])
ERRORS = Counter("hub_protocol_errors_total", "Error frames sent", ["worker", "code"])
# Where a delivery waits with the CPU free: a collection, or a callback holding the loop (common/pauses.py)
PAUSE_BUCKETS = (.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5)
GC_PAUSE = Histogram("hub_gc_pause_seconds", "Garbage collection pauses", ["worker", "generation"],
                     buckets=PAUSE_BUCKETS)
LOOP_LAG = Histogram("hub_loop_lag_seconds", f"How late a {pauses.LAG_EVERY_S:g} s timer ran: the loop was busy",
                     ["worker"], buckets=PAUSE_BUCKETS)

WORKER = "0"


def announce() -> None:
    """Create this worker's gauge and histogram series at start, so /metrics lists idle workers too."""
    CONNECTIONS.labels(WORKER).set(0)
    SUBSCRIPTIONS.labels(WORKER).set(0)
    DELIVERY.labels(WORKER)
    for generation in range(3):
        gc_pause(generation)
    LOOP_LAG.labels(WORKER)


@cache
def gc_pause(generation: int) -> Histogram:
    return GC_PAUSE.labels(WORKER, str(generation))


def watch_gc() -> pauses.GcPauses:
    """Every collection of this worker into `hub_gc_pause_seconds`."""
    return pauses.GcPauses(lambda generation, seconds: gc_pause(generation).observe(seconds)).install()


async def watch_loop_lag(every_s: float = pauses.LAG_EVERY_S) -> None:
    """Wake every `every_s` and record how late: `hub_loop_lag_seconds` (runs until cancelled)."""
    loop, lag = asyncio.get_running_loop(), LOOP_LAG.labels(WORKER)
    while True:
        due = loop.time() + every_s
        await asyncio.sleep(every_s)
        lag.observe(pauses.lateness(due, loop.time()))


class Tally:
    """A counter child's increments, summed here until `flush()` adds them to it."""

    __slots__ = ("child", "pending")

    def __init__(self, child: Counter) -> None:
        self.child, self.pending = child, 0.0
        _LOCAL.append(self)

    def inc(self, amount: float = 1) -> None:
        self.pending += amount

    def flush(self) -> None:
        if self.pending:
            amount, self.pending = self.pending, 0.0
            self.child.inc(amount)


class Observations:
    """A histogram child's observations, counted per bucket here until `flush()` adds them to it.

    The fold writes the child's own values (`_sum`, `_buckets`: what `Histogram.observe` increments,
    one `inc` per observation; tests/hub/test_metrics_fold.py holds the two equal)."""

    __slots__ = ("child", "bounds", "counts", "total")

    def __init__(self, child: Histogram) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds)  # ends with +Inf
        self.counts, self.total = [0] * len(self.bounds), 0.0
        _LOCAL.append(self)

    def observe(self, amount: float) -> None:
        self.total += amount
        self.counts[bisect_left(self.bounds, amount)] += 1  # the first bucket whose bound is >= amount

    def flush(self) -> None:
        if not any(self.counts):
            return
        counts, total = self.counts, self.total
        self.counts, self.total = [0] * len(self.bounds), 0.0
        child: Any = self.child
        child._sum.inc(total)
        for bucket, n in zip(child._buckets, counts, strict=True):
            if n:
                bucket.inc(n)


_LOCAL: list[Tally | Observations] = []


def flush() -> None:
    """Add what was counted locally since the last call to the multiprocess series (the hub's tick)."""
    for local in _LOCAL:
        local.flush()


@cache
def msg_in(kind: str) -> Tally:
    return Tally(MESSAGES_IN.labels(WORKER, kind))


@cache
def msg_out(kind: str) -> Tally:
    return Tally(MESSAGES_OUT.labels(WORKER, kind))


@cache
def delivery() -> Observations:
    return Observations(DELIVERY.labels(WORKER))


@cache
def error(code: str) -> Counter:
    return ERRORS.labels(WORKER, code)
