"""Presence liveness: each worker re-stamps its connections in Redis, so a user whose hub is alive
stays online and one whose hub died fades to offline after `stale_after_s`."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.hub.conn import Conn
from spotctl_sandbox.hub.core.ratelimit import ConnectionLimiter
from spotctl_sandbox.hub.presence import REFRESH_BATCH, PresenceStore
from spotctl_sandbox.realtime import keys

pytestmark = pytest.mark.stack


class Idle:
    transport = protocol = None  # what a Conn caches of its socket; never used here


async def test_a_refresh_brings_every_local_connection_back_online(
        redis: aioredis.Redis, ns: str, cleanup: None) -> None:
    presence = PresenceStore(redis, stale_after_s=90.0)
    users = [f"u{i}" for i in range(2 * REFRESH_BATCH + 7)]  # more than one script call
    long_ago = time.time() - 10 * presence.stale_after_s
    conns = [Conn(id=f"c-{uid}", ns=ns, user_id=uid, name=uid, ws=cast(Any, Idle()),
                  limiter=ConnectionLimiter.create(1, 1), connected_ms=0.0) for uid in users]
    async with redis.pipeline(transaction=False) as pipe:
        for conn in conns:
            pipe.zadd(keys.conns(ns, conn.user_id), {conn.member: long_ago})
        await pipe.execute()
    assert set((await presence.statuses(ns, users)).values()) == {"offline"}

    await presence.refresh(conns)

    assert set((await presence.statuses(ns, users)).values()) == {"online"}
    ttls = {await redis.ttl(keys.conns(ns, uid)) for uid in (users[0], users[-1])}
    assert all(0 < ttl <= 2 * presence.stale_after_s for ttl in ttls)
