"""MongoDB, the playlists' store, away under a running hub: a playlist frame answers `unavailable`
naming MongoDB within the hub's bound (not `internal`), the next frames fail at once while its breaker
is open, a retry after the cooldown reaches MongoDB again, and the connection stays up throughout.

No mongod on this machine, and a hub started without an answering MongoDB keeps its playlists in
PostgreSQL (open_repository's fallback). So the hub runs in this test's process on the stack's Redis
and PostgreSQL, with its playlists on MongoDB at a real socket that accepts and never answers: a
MongoDB that went away after the hub chose it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.server import serve

from spotctl_sandbox.common.env import Env
from spotctl_sandbox.hub.config import HubConfig
from spotctl_sandbox.hub.conn import HubConnection
from spotctl_sandbox.hub.connection import Server
from spotctl_sandbox.hub.node import Hub as HubNode
from spotctl_sandbox.hub.store import Database
from spotctl_sandbox.hub.userlimit import UserLimit
from spotctl_sandbox.playlists import MongoPlaylists
from spotctl_sandbox.realtime.client import HubClient, HubError

from .conftest import Hub, token

pytestmark = pytest.mark.stack

BOUND_S = 1.0  # the hub's dependency bound here (HUB_DEPENDENCY_TIMEOUT_S); MongoDB's waits get the same


@pytest.fixture
def silent_mongodb() -> Iterator[str]:
    """A listening socket that never answers: connections are accepted (by the kernel), hellos unread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"mongodb://127.0.0.1:{sock.getsockname()[1]}/spotify"


@contextlib.asynccontextmanager
async def hub_in_process(hub: Hub, mongo_url: str) -> AsyncIterator[tuple[str, Database]]:
    """One hub worker (as worker.run builds it) serving on a free port; its playlists on `mongo_url`."""
    env = {k: v for k, v in hub.env.items() if k not in ("PORT", "METRICS_PORT")}
    cfg = HubConfig.from_env(Env({**env, "HUB_DEPENDENCY_TIMEOUT_S": str(BOUND_S)}))
    redis = aioredis.from_url(hub.env["REDIS_URL"], socket_timeout=BOUND_S)
    db = Database(hub.env["DATABASE_URL"], answer_within_s=cfg.dependency_timeout_s)
    assert await db.open()
    assert db.playlists is not None
    await db.playlists.close()
    db.playlists = MongoPlaylists(mongo_url, timeout_ms=round(cfg.dependency_timeout_s * 1000))
    node = HubNode(cfg, redis, 0)
    await node.start()
    try:
        async with serve(Server(node, db, UserLimit(redis, cfg.user_rate)).handle, "127.0.0.1", 0,
                         create_connection=HubConnection, ping_interval=None) as ws_server:
            port = next(iter(ws_server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}/ws", db
    finally:
        await node.stop()
        await db.close()
        await redis.aclose()


async def timed_error(client: HubClient, kind: str, content: dict[str, str]) -> tuple[HubError, float]:
    started = time.monotonic()
    with pytest.raises(HubError) as err:
        await client.request(kind, content, timeout=10 * BOUND_S)
    return err.value, time.monotonic() - started


async def test_mongodb_away_answers_unavailable_naming_it_and_its_breaker_fails_frames_at_once(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None, silent_mongodb: str) -> None:
    async with hub_in_process(hub, silent_mongodb) as (url, db):
        ann = HubClient(url, await token(redis, hub, f"ann-{ns}"), namespace=ns, reconnect=False)
        await ann.connect()
        opening = {"playlist_id": "road-trip"}

        first, took = await timed_error(ann, "playlist_open", opening)
        assert (first.code, first.content.get("dependency")) == ("unavailable", "mongodb"), first
        assert "MongoDB" in first.message
        assert took < 3 * BOUND_S, f"answered after {took:.2f} s: MongoDB's waits are not bounded"
        assert not db.mongo.closed and db.breaker.closed  # MongoDB's breaker, not PostgreSQL's

        # while the breaker is open: failed without waiting for MongoDB
        again, took_again = await timed_error(ann, "playlist_history", opening)
        assert (again.code, again.content.get("dependency")) == ("unavailable", "mongodb"), again
        assert took_again < BOUND_S / 2, f"{took_again:.2f} s: the breaker did not fail the frame at once"

        # past the cooldown a retry reaches MongoDB again (a probe: it waits out the bound, then fails)
        await asyncio.sleep(db.mongo.cooldown_s + 0.1)
        probe, took_probe = await timed_error(ann, "playlist_open", opening)
        assert (probe.code, probe.content.get("dependency")) == ("unavailable", "mongodb"), probe
        assert took_probe > BOUND_S * 0.8, f"{took_probe:.2f} s: the retry did not reach MongoDB"

        assert await ann.request("ping") == {}
        assert ann.connects == 1
        await ann.close()
