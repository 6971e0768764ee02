"""Flow 2, worker side: a `user.<id>` request on `recommendations` is answered from listening history."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.events import declare_exchanges
from tests.workers.conftest import Catalogue, take_from_queue

pytestmark = pytest.mark.stack


@pytest.fixture
async def channel(env: dict[str, str]) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(env["AMQP_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_exchanges(channel)
        yield channel


async def ask(channel: aio_pika.abc.AbstractChannel, routing_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the API does: publish with reply_to + correlation_id, wait for the matching reply."""
    replies = await channel.declare_queue("", exclusive=True, auto_delete=True)
    correlation_id = uuid.uuid4().hex
    exchange = await channel.get_exchange("recommendations")
    await exchange.publish(aio_pika.Message(json.dumps(body).encode(), reply_to=replies.name,
                                            correlation_id=correlation_id), routing_key=routing_key)
    async with replies.iterator(timeout=15) as messages:
        async for message in messages:
            async with message.process():
                if message.correlation_id == correlation_id:
                    return dict(json.loads(message.body))
    raise AssertionError("no reply")


async def test_recommendations_come_from_co_listeners(
        channel: aio_pika.abc.AbstractChannel, catalogue: Catalogue, redis: aioredis.Redis) -> None:
    artist = await catalogue.artist()
    shared, liked, other = [await catalogue.song(artist, t) for t in ("Shared", "Liked", "Other")]
    me, _ = await catalogue.user("me")
    for _ in range(3):  # three listeners of `shared` also play `liked`; one of them plays `other`
        peer, _ = await catalogue.user("peer")
        await catalogue.played(peer, shared)
        await catalogue.played(peer, liked)
    await catalogue.played(peer, other)
    await catalogue.played(me, shared)

    reply = await asyncio.wait_for(ask(channel, f"user.{me}", {"limit": 5}), 20)

    assert reply["user_id"] == str(me)
    assert reply["song_ids"][:2] == [str(liked), str(other)]
    assert reply["scores"][0] > reply["scores"][1] > 0
    songs = await (await catalogue.conn.execute("SELECT count(*) FROM songs")).fetchone()
    assert songs is not None
    assert str(shared) not in reply["song_ids"]
    assert len(reply["song_ids"]) == min(5, songs[0] - 1)  # the catalogue's most played fill up
    cached = await redis.get(f"recs:{me}")
    assert cached is not None and json.loads(cached)["song_ids"] == reply["song_ids"]
    assert 3590 <= await redis.ttl(f"recs:{me}") <= 3600
    queue = await channel.declare_queue("recommendations.requests", passive=True)
    assert queue.declaration_result.message_count == 0  # drained: the request was acked
    await redis.delete(f"recs:{me}")


async def test_a_new_listener_gets_what_their_behaviour_segment_plays(
        channel: aio_pika.abc.AbstractChannel, catalogue: Catalogue, redis: aioredis.Redis) -> None:
    from spotctl_sandbox.analytics.ml.store import schema_sql

    await catalogue.conn.execute(schema_sql().encode())  # what the analytics service applies
    artist = await catalogue.artist()
    owl_song, other = await catalogue.song(artist, "Owl song"), await catalogue.song(artist, "Other")
    me, _ = await catalogue.user("new night owl")
    mates = [(await catalogue.user("owl"))[0] for _ in range(2)]
    stranger, _ = await catalogue.user("day listener")
    for mate in mates:
        await catalogue.played(mate, owl_song)
    await catalogue.played(stranger, other)
    segment = 90_000 + int(uuid.uuid4().int % 1000)
    rows = [(me, segment), *((m, segment) for m in mates), (stranger, segment + 1)]
    for user, seg in rows:
        await catalogue.conn.execute(
            "INSERT INTO analytics_user_segments (tenant, user_id, segment, label, model_version) "
            "VALUES ('default', %s, %s, 'night owls', 1)", (user, seg))
    try:
        reply = await asyncio.wait_for(ask(channel, f"user.{me}", {"limit": 3}), 20)
    finally:
        await catalogue.conn.execute("DELETE FROM analytics_user_segments WHERE tenant = 'default' "
                                     "AND user_id = ANY(%s)", ([u for u, _ in rows],))
        await redis.delete(f"recs:{me}")
    # no history of their own: co-occurrence has nothing; the segment's favourite comes first
    assert reply["method"] == "segment"
    assert reply["song_ids"][0] == str(owl_song)


async def test_a_bad_request_is_dead_lettered_and_the_worker_keeps_answering(
        channel: aio_pika.abc.AbstractChannel, catalogue: Catalogue, redis: aioredis.Redis) -> None:
    marker = uuid.uuid4().hex
    exchange = await channel.get_exchange("recommendations")
    await exchange.publish(aio_pika.Message(f"not json {marker}".encode()), routing_key="user.1")

    me, _ = await catalogue.user()
    reply = await asyncio.wait_for(ask(channel, f"user.{me}", {}), 20)
    assert reply["user_id"] == str(me)

    found = await take_from_queue(channel, "recommendations.requests.dlq", marker.encode())
    assert found.headers["x-death"][0]["reason"] == "rejected"
    await redis.delete(f"recs:{me}")
