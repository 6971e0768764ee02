"""Connecting to the real hub: authentication, bad frames, limits, the per-user cap, tenants, metrics."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

import jwt
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from spotctl_sandbox.common import tokens
from spotctl_sandbox.hub import audit
from spotctl_sandbox.realtime import keys
from spotctl_sandbox.realtime.client import HubError

from .conftest import Hub, UserFactory, next_of, token

pytestmark = pytest.mark.stack


async def test_token_in_query_gets_a_welcome(user: UserFactory) -> None:
    alice = await user("alice")
    assert alice.welcome is not None and alice.user_id.startswith("alice-")
    synced = await alice.request("time_sync", {"client_time": 1.0})
    assert synced["client_time"] == 1.0 and synced["server_time"] == pytest.approx(time.time() * 1000, abs=5000)


async def test_token_in_first_frame_is_accepted(hub: Hub, redis: aioredis.Redis) -> None:
    async with connect(hub.url) as ws:
        await ws.send(json.dumps({"type": "auth", "content": {"token": await token(redis, hub, "frame-user")}}))
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_bad_token_is_refused_and_audited(hub: Hub, redis: aioredis.Redis) -> None:
    async with connect(hub.url + "?token=not-a-jwt") as ws:
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert error["content"]["code"] == "unauthorized" and "malformed" in error["content"]["message"]
    assert ws.close_code == 1008
    assert any("malformed" in row["reason"] for row in await audit.recent(redis, 20))


async def test_a_refused_auth_frame_is_audited_with_the_forwarded_peer(hub: Hub, redis: aioredis.Redis) -> None:
    # The peer is read from the handshake's headers while the first frame is awaited; the hub drops
    # the handshake request once a connection is admitted (memory, issue 18), never before.
    peer = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    async with connect(hub.url, additional_headers={"X-Forwarded-For": f"{peer}, 10.0.0.1"}) as ws:
        await ws.send(json.dumps({"type": "auth", "content": {"token": "not-a-jwt"}}))
        assert json.loads(await ws.recv())["content"]["code"] == "unauthorized"
    assert any(row.get("peer") == peer and "malformed" in row["reason"] for row in await audit.recent(redis, 50))


async def test_revoked_session_is_refused(hub: Hub, redis: aioredis.Redis) -> None:
    tok = await token(redis, hub, "revoked-user")
    await tokens.close_session(redis, tokens.decode(hub.env["JWT_SECRET"], tok).jti)
    async with connect(f"{hub.url}?token={tok}") as ws:
        error = json.loads(await ws.recv())
    assert "revoked" in error["content"]["message"]


async def test_a_first_frame_other_than_auth_is_refused(hub: Hub) -> None:
    async with connect(hub.url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["content"]["code"] == "unauthorized"


async def test_only_the_ws_path_upgrades(hub: Hub) -> None:
    with pytest.raises(InvalidStatus) as err:
        async with connect(hub.url.replace("/ws", "/elsewhere")):
            pass
    assert err.value.response.status_code == 404


async def test_bad_frames_get_an_error_and_the_connection_stays(user: UserFactory) -> None:
    alice = await user("alice")
    with pytest.raises(HubError) as err:
        await alice.request("join", {"room": "no spaces allowed"})
    assert err.value.code == "invalid_content" and "content['room']" in err.value.message
    with pytest.raises(HubError, match="unknown_type"):
        await alice.request("teleport", {})
    assert alice._ws is not None
    await alice._ws.send("{not json")
    assert (await next_of(alice, "error"))["content"]["code"] == "bad_json"
    assert await alice.request("join", {"room": "fine"}) == {"room": "fine", "replayed": 0}


async def test_oversized_frames_close_the_connection(hub: Hub, redis: aioredis.Redis) -> None:
    async with connect(f"{hub.url}?token={await token(redis, hub, 'big')}") as ws:
        await ws.recv()
        await ws.send("x" * (70 * 1024))
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1009


async def test_flooding_gets_rate_limited_then_closed(hub: Hub, redis: aioredis.Redis) -> None:
    async with connect(f"{hub.url}?token={await token(redis, hub, 'flood')}") as ws:
        await ws.recv()
        for _ in range(150):
            await ws.send('{"type":"ping"}')
        limited = []
        with pytest.raises(ConnectionClosed):
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] == "error":
                    limited.append(frame["content"])
    assert limited and {e["code"] for e in limited} == {"rate_limited"}
    assert all(e["retry_after_ms"] >= 1 for e in limited) and limited[-1]["retry_after_ms"] >= 1000
    assert ws.close_code == 1013 and "come back in" in (ws.close_reason or "")  # may retry, after a delay


async def test_the_oldest_connection_is_closed_over_the_per_user_cap(hub: Hub, redis: aioredis.Redis,
                                                                      ns: str) -> None:
    tok = await token(redis, hub, f"many-{ns}")
    cap = int(hub.env.get("MAX_WS_CONNECTIONS_PER_USER", "5"))
    conns = [await connect(f"{hub.url}?token={tok}&ns={ns}") for _ in range(cap)]
    for ws in conns:
        await ws.recv()
    newest = await connect(f"{hub.url}?token={tok}&ns={ns}")
    await newest.recv()
    kicked = json.loads(await asyncio.wait_for(conns[0].recv(), 5))
    assert kicked["content"]["code"] == "too_many_connections"
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(conns[0].recv(), 5)
    assert conns[0].close_code == 1008
    assert await asyncio.wait_for(conns[1].ping(), 5) is not None  # the others stay
    for ws in [*conns, newest]:
        await ws.close()


async def test_a_connection_admitted_after_younger_ones_is_itself_closed_when_it_is_the_oldest(
        hub: Hub, redis: aioredis.Redis, ns: str) -> None:
    """Its worker checked its token last, but it opened first: the kick is for it, and it is told so
    at once (a kick on the bus would come before it follows its own topic)."""
    tok = await token(redis, hub, f"late-{ns}")
    cap = int(hub.env.get("MAX_WS_CONNECTIONS_PER_USER", "5"))
    users_set = keys.conns(ns, f"late-{ns}")
    later = {f"{(time.time() + 60) * 1000 + i:018.3f}:younger{i}": time.time() for i in range(cap)}
    await redis.zadd(users_set, later)  # admitted by other workers, but opened after it
    async with connect(f"{hub.url}?token={tok}&ns={ns}") as ws:
        told = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert told["type"] == "error" and told["content"]["code"] == "too_many_connections"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1008
    assert set(await redis.zrange(users_set, 0, -1)) == {m.encode() for m in later}


async def test_namespaces_are_isolated(user: UserFactory, ns: str) -> None:
    a1, a2 = await user("a1"), await user("a2")
    b1 = await user("b1", namespace=ns + "x")
    for client in (a1, a2, b1):
        await client.request("join", {"room": "shared-name"})
    await a1.request("room_message", {"room": "shared-name", "data": "for tenant a"})
    assert (await next_of(a2, "room_message"))["content"]["data"] == "for tenant a"
    with pytest.raises(TimeoutError):
        await next_of(b1, "room_message", timeout=0.5)


async def test_health_and_metrics_are_served(hub: Hub, user: UserFactory) -> None:
    alice = await user("alice")
    await alice.request("join", {"room": "metrics"})
    health = json.load(urllib.request.urlopen(hub.metrics_url + "/health", timeout=5))
    assert health["status"] == "ok" and health["ready"] == health["workers"] >= 1
    text = urllib.request.urlopen(hub.metrics_url + "/metrics", timeout=5).read().decode()
    assert 'hub_connections{worker="' in text and 'hub_messages_in_total{type="join",worker="' in text
    assert "hub_delivery_latency_seconds_bucket" in text
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(hub.metrics_url + "/nope", timeout=5)


async def test_ping_is_answered_with_a_pong_that_says_to_what(user: UserFactory) -> None:
    alice = await user("alice")
    assert await alice.request("ping", {}, timeout=5) == {}  # request() waits for the reply_to


async def test_a_resume_id_beyond_redis_range_is_ignored_not_a_bus_failure(hub: Hub, redis: aioredis.Redis) -> None:
    tok = await token(redis, hub, "resumer")
    async with connect(f"{hub.url}?token={tok}&last_id=99999999999999999999999-0") as ws:
        welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome" and welcome["content"]["resumed_from"] is None


async def test_a_token_limited_to_a_tenant_only_opens_that_namespace(hub: Hub, redis: aioredis.Redis,
                                                                     ns: str) -> None:
    claims = tokens.Claims(user_id=f"tenant-user-{ns}", name="t", jti=uuid.uuid4().hex,
                           expires_at=int(time.time()) + 600)
    tok = jwt.encode({"sub": claims.user_id, "name": "t", "jti": claims.jti, "exp": claims.expires_at,
                      "ns": [ns]}, hub.env["JWT_SECRET"], algorithm="HS256")
    await tokens.open_session(redis, claims)
    async with connect(f"{hub.url}?token={tok}&ns={ns}") as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
    async with connect(f"{hub.url}?token={tok}&ns={ns}x") as ws:
        refused = json.loads(await ws.recv())
    assert refused["content"]["code"] == "unauthorized" and "namespace" in refused["content"]["message"]
