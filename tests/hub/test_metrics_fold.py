"""The per-message metrics are counted in the worker and folded into prometheus_client's series at
the hub's tick (hub/metrics.py): the fold must leave exactly what one `inc`/`observe` per event would."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from spotctl_sandbox.hub.metrics import Observations, Tally

from .conftest import Hub, UserFactory, metric_totals, until

BUCKETS = (.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5)
# on the bounds, between them, past the last one, zero
VALUES = [0.0, 0.0005, 0.001, 0.0011, 0.002, 0.004, 0.005, 0.0099, 0.02, 0.05, 0.07, 0.1, 0.25, 0.3, 0.5, 1.0,
          2.4, 2.5, 5.0, 5.01, 60.0, 1e9]


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for m in registry.collect() for s in m.samples if not s.name.endswith("_created")}


def test_folded_observations_equal_one_observe_each() -> None:
    direct, folded = CollectorRegistry(), CollectorRegistry()
    one = Histogram("h", "d", ["worker"], buckets=BUCKETS, registry=direct).labels("0")
    local = Observations(Histogram("h", "d", ["worker"], buckets=BUCKETS, registry=folded).labels("0"))
    for value in VALUES * 3:
        one.observe(value)
        local.observe(value)
    local.flush()
    assert samples(folded) == samples(direct)
    local.observe(0.003)  # a second fold adds to the first, and an empty one changes nothing
    local.flush()
    local.flush()
    one.observe(0.003)
    assert samples(folded) == samples(direct)


def test_a_tally_reaches_its_counter_at_the_flush() -> None:
    registry = CollectorRegistry()
    child = Counter("c", "d", ["worker", "type"], registry=registry).labels("0", "ping")
    tally = Tally(child)
    tally.inc()
    tally.inc(4)
    assert child._value.get() == 0  # counted here until the tick
    tally.flush()
    tally.flush()
    assert child._value.get() == 5


async def test_the_hubs_metrics_count_every_frame_and_delivery_after_a_tick(hub: Hub, user: UserFactory) -> None:
    alice, bob = await user("alice"), await user("bob")
    for client in (alice, bob):
        await client.request("join", {"room": "folded"})
    before = metric_totals(hub.metrics_url, "hub_messages_in_total", by="type").get("room_message", 0)
    sent = metric_totals(hub.metrics_url, "hub_messages_out_total", by="type").get("room_message", 0)
    for i in range(7):
        await alice.request("room_message", {"room": "folded", "data": i})
    await until(lambda: metric_totals(hub.metrics_url, "hub_messages_in_total", by="type")
                .get("room_message", 0) == before + 7, timeout=5)
    # each message reaches bob (alice's own is left out only for client events; rooms echo to the sender)
    await until(lambda: metric_totals(hub.metrics_url, "hub_messages_out_total", by="type")
                .get("room_message", 0) >= sent + 7, timeout=5)
    await asyncio.sleep(0.6)  # two ticks: nothing more arrives late
    text = urllib.request.urlopen(hub.metrics_url + "/metrics", timeout=5).read().decode()
    counts = [s for f in text_string_to_metric_families(text) for s in f.samples
              if s.name == "hub_delivery_latency_seconds_count"]
    assert sum(s.value for s in counts) >= 7
