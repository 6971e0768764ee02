"""A stalled Redis fails the frames that need it, with an `unavailable` error the client can retry,
and never closes an established connection: a slow bus must not turn into a reconnect storm. A
newcomer is refused with 1013 (come back later), not 1008 (bad credentials)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from spotctl_sandbox.realtime.client import HubClient, HubError

from .conftest import Hub, HubProcess, token

pytestmark = pytest.mark.stack
PAUSE_S = 5.0


async def test_a_redis_stall_fails_the_frame_and_keeps_the_connection(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None,
        hub_factory: Callable[..., HubProcess]) -> None:
    url = hub.env["REDIS_URL"]
    touchy = hub_factory(REDIS_URL=f"{url}{'&' if '?' in url else '?'}socket_timeout=0.5").start()
    alice = HubClient(touchy.url, await token(redis, hub, f"alice-{ns}"), namespace=ns)
    await alice.connect()
    await alice.request("join", {"room": "before"})
    bob = await token(redis, hub, f"bob-{ns}")

    # Every Redis client waits PAUSE_S: long enough that a loaded box still fits the frame's bound and
    # the newcomer's handshake inside it (at 2 s the stall could end first, the newcomer was welcomed
    # and the test waited on it for ever).
    paused_at = asyncio.get_running_loop().time()
    await redis.execute_command("CLIENT", "PAUSE", str(int(PAUSE_S * 1000)), "ALL")
    with pytest.raises(HubError) as stalled:
        await alice.request("join", {"room": "during"})
    assert stalled.value.code == "unavailable"
    async with connect(f"{touchy.url}?token={bob}&ns={ns}") as newcomer:  # arrives during the stall
        refused = json.loads(await asyncio.wait_for(newcomer.recv(), PAUSE_S))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(newcomer.recv(), PAUSE_S)
    assert refused["content"]["code"] == "unavailable"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013  # retry, unlike 1008

    await asyncio.sleep(max(0.0, paused_at + PAUSE_S - asyncio.get_running_loop().time()))
    assert (await alice.request("join", {"room": "after"}))["room"] == "after"
    assert alice.connects == 1  # the same connection throughout
    await alice.close()
