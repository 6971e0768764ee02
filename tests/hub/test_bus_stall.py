"""A stalled Redis fails the frames that need it, with an `unavailable` error the client can retry,
and never closes the connection: a slow bus must not turn into a reconnect storm."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from spotctl_sandbox.hub.client import HubClient, HubError

from .conftest import Hub, HubProcess, token

pytestmark = pytest.mark.stack


async def test_a_redis_stall_fails_the_frame_and_keeps_the_connection(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None,
        hub_factory: Callable[..., HubProcess]) -> None:
    url = hub.env["REDIS_URL"]
    touchy = hub_factory(REDIS_URL=f"{url}{'&' if '?' in url else '?'}socket_timeout=0.5").start()
    alice = HubClient(touchy.url, await token(redis, hub, f"alice-{ns}"), namespace=ns)
    await alice.connect()
    await alice.request("join", {"room": "before"})

    await redis.execute_command("CLIENT", "PAUSE", "2000", "ALL")  # every Redis client waits 2 s
    with pytest.raises(HubError) as stalled:
        await alice.request("join", {"room": "during"})
    assert stalled.value.code == "unavailable"

    await asyncio.sleep(2.0)
    assert (await alice.request("join", {"room": "after"}))["room"] == "after"
    assert alice.connects == 1  # the same connection throughout
    await alice.close()
