"""The bus as a worker reads it: a payload that is not a hub frame is skipped on its own, never taking
the rest of its burst down with it."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.topics import Topic

from .conftest import UserFactory, next_of

pytestmark = pytest.mark.stack


async def test_a_stray_payload_does_not_cost_the_frames_published_with_it(user: UserFactory, redis: aioredis.Redis,
                                                                          ns: str) -> None:
    ann = await user("ann")
    await ann.request("join", {"room": "stray"})
    channel = keys.channel(ns, Topic.room("stray"))
    body = protocol.dumps(protocol.body("room_message", {"room": "stray", "from": "x", "data": "kept"},
                                        topic="room:stray"))
    async with redis.pipeline(transaction=True) as pipe:  # one burst for the worker that reads them
        pipe.publish(channel, "not a hub frame")
        pipe.publish(channel, protocol.bus_payload("e:1", body))
        await pipe.execute()
    assert (await next_of(ann, "room_message"))["content"]["data"] == "kept"
