"""The hub_activity contract: per worker and tenant, counts in memory and one event per interval on
Kafka — checked in pure code, then end to end against the test stack's Kafka (tansu)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from websockets.asyncio.client import connect

from spotctl_sandbox.hub.activity import TOPIC
from spotctl_sandbox.hub.core.activity import Activity

from .conftest import Hub, HubProcess, token

FIELDS = {"event_id": str, "ts": int, "tenant": str, "worker": int, "connections": int, "messages": dict,
          "deliveries": int, "errors": int}


def test_one_event_per_tenant_seen_then_the_counts_start_again() -> None:
    activity = Activity(worker=3)
    activity.connected("a")
    activity.connected("b")
    for kind in ("join", "room_message", "room_message"):
        activity.message("a", kind)
    activity.delivered("a", 5)
    activity.error("a")
    activity.disconnected("b")
    events = {e["tenant"]: e for e in activity.events(now_ms=1_000)}
    assert events["a"] | {"event_id": "x"} == {"event_id": "x", "ts": 1_000, "tenant": "a", "worker": 3,
                                               "connections": 1, "messages": {"join": 1, "room_message": 2},
                                               "deliveries": 5, "errors": 1}
    assert events["b"]["connections"] == 0  # seen in the interval: it left
    later = activity.events(now_ms=6_000)
    assert [(e["tenant"], e["connections"], e["messages"]) for e in later] == [("a", 1, {})]  # still connected
    assert later[0]["event_id"] != events["a"]["event_id"]


@pytest.mark.stack
async def test_a_hub_reports_each_tenants_activity_to_kafka(hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None,
                                                            hub_factory: Callable[..., HubProcess]) -> None:
    quick = hub_factory(HUB_ACTIVITY_INTERVAL="0.3", HUB_WORKERS="1").start()
    async with connect(f"{quick.url}?token={await token(redis, hub, f'act-{ns}')}&ns={ns}") as ws:
        await ws.recv()
        await ws.send('{"type":"join","content":{"room":"r"}}')
        for i in range(3):
            await ws.send(json.dumps({"type": "room_message", "content": {"room": "r", "data": i}}))
        await ws.send('{"type":"nope"}')
        for _ in range(5):  # join_result, three echoes with their results... enough to know they were handled
            await ws.recv()
        events = await tenant_events(hub.env["KAFKA_BOOTSTRAP_SERVERS"], ns, lambda es: sum(
            e["errors"] for e in es) >= 1 and sum(e["messages"].get("room_message", 0) for e in es) >= 3)
    for event in events:
        assert {k: type(v) for k, v in event.items()} == FIELDS
    assert len({e["event_id"] for e in events}) == len(events) and {e["worker"] for e in events} == {0}
    messages = sum((Counter(e["messages"]) for e in events), Counter())
    assert messages == {"join": 1, "room_message": 3}
    assert sum(e["deliveries"] for e in events) == 3  # the sender's own echoes
    assert sum(e["errors"] for e in events) == 1 and max(e["connections"] for e in events) == 1


async def tenant_events(bootstrap: str, tenant: str, enough: Callable[[list[dict[str, Any]]], bool],
                        timeout: float = 20) -> list[dict[str, Any]]:
    """Every hub_activity event of `tenant`, read by assigned partitions (a group join takes ~23 s on tansu)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)  # its metadata request creates the topic if
    await admin.start()                                         # the hub has not yet (as its producer would)
    try:
        parts = [p["partition"] for p in (await admin.describe_topics([TOPIC]))[0]["partitions"]]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    try:
        tps = [TopicPartition(TOPIC, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                found += [v for v in (json.loads(r.value) for r in records) if v.get("tenant") == tenant]
            if found and enough(found):
                return found
        raise AssertionError(f"the {TOPIC} events of {tenant} did not all arrive: {found}")
    finally:
        await consumer.stop()
