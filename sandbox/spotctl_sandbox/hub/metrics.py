"""Prometheus metrics of one worker, every series labelled `worker`.

Workers write through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the
supervisor); the supervisor's /metrics merges them. Children are cached: a label lookup per frame
would cost more than the frame.
"""

from __future__ import annotations

import asyncio
from functools import cache

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


@cache
def msg_in(kind: str) -> Counter:
    return MESSAGES_IN.labels(WORKER, kind)


@cache
def msg_out(kind: str) -> Counter:
    return MESSAGES_OUT.labels(WORKER, kind)


@cache
def error(code: str) -> Counter:
    return ERRORS.labels(WORKER, code)
