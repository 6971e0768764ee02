"""The real-time hub, as a user and as an operator: a session (the hub's own client), notify, stats.

Wraps the client the sandbox ships (`HubClient`): with a user name instead of a token, a token is
signed with JWT_SECRET and its session opened in Redis, as the API's login would, and revoked when the
session ends. An unreachable hub is one ServiceDown line; a refusal (bad token, bad frame) one error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from spotctl.clients.reach import reaching, require
from spotctl.errors import ServiceDown, SpotctlError, UsageError
from spotctl.inspect.hub_view import (
    Target,
    delivery_buckets,
    quantile_ms,
    with_rates,
    worker_stats,
)

if TYPE_CHECKING:
    from spotctl.endpoints import Endpoints
    from spotctl_sandbox.common.redisconn import AsyncAnyRedis
    from spotctl_sandbox.realtime.client import HubClient

T = TypeVar("T")


class Requester(Protocol):
    """Anything that asks the hub and waits for the answer: a HubClient, a Peer."""

    async def request(self, kind: str, content: dict[str, Any] | None = None, timeout: float = 10.0) -> Any: ...


def run(work: Awaitable[T]) -> T:
    """Run hub work on an event loop; a refusal from the hub is one error line."""
    return asyncio.run(_mapped(work))


async def _mapped(work: Awaitable[T]) -> T:
    from spotctl_sandbox.realtime.client import HubError

    try:
        return await work
    except HubError as exc:
        hint = "check that JWT_SECRET matches the hub's" if exc.code == "unauthorized" else None
        raise SpotctlError(f"the hub refused: {exc}", hint=hint) from None


@asynccontextmanager
async def session(ep: Endpoints, user: str, token: str | None, ns: str,
                  reconnect: bool = False) -> AsyncIterator[HubClient]:
    """A connected HubClient acting as `user`; a token minted here is revoked on the way out."""
    from websockets.exceptions import InvalidHandshake

    from spotctl.clients.redis import errors, key_of, open_async
    from spotctl_sandbox.common import tokens
    from spotctl_sandbox.realtime.client import HubClient

    url = require("HUB_URL", ep.hub_url)
    store = require("REDIS_URL", ep.cluster_or_redis_url)  # the sessions the API and the hub share
    redis = open_async(store, socket_connect_timeout=2)
    jti = None
    try:
        if token is None:
            token, jti = await _mint(redis, ep, user)
        client = HubClient(url, token, namespace=ns, reconnect=reconnect, open_timeout=5)
        try:
            await client.connect()
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ServiceDown("hub", url, str(exc) or type(exc).__name__) from None
        try:
            yield client
        finally:
            await client.close()
    finally:
        if jti is not None:
            with reaching(key_of(store), store, *errors(), OSError):
                await tokens.close_session(redis, jti)
        await redis.aclose()


async def _mint(redis: AsyncAnyRedis, ep: Endpoints, user: str) -> tuple[str, str]:
    import warnings

    from spotctl.clients.redis import errors, key_of
    from spotctl_sandbox.common import tokens

    secret = require("JWT_SECRET", ep.jwt_secret)
    store = ep.cluster_or_redis_url
    with warnings.catch_warnings(), reaching(key_of(store), store, *errors(), OSError):
        warnings.simplefilter("ignore")  # PyJWT warns about the short dev secret
        token = await tokens.issue(redis, secret, user, user)
        return token, tokens.decode(secret, token).jti


async def enter(client: Requester, target: Target) -> tuple[Target, Any]:
    """Join `target` and answer it with an id, plus the hub's reply. A channel given by name is joined
    by name: the hub finds the one everybody means, or makes it (a public channel, its creator joined)."""
    reply = await client.request(*target.join())
    channel = (reply.get("channel") or {}) if isinstance(reply, dict) else {}
    if target.unresolved and "id" in channel:
        target = target.resolved(int(channel["id"]))
    if target.channel_id is not None and target.channel_name is None and channel.get("name"):
        target = target.named(str(channel["name"]))  # chat:12 joined: call it by its name from now on
    return target, reply


async def follow(client: Requester, topic: str) -> tuple[Target | None, Any]:
    """Subscribe to any topic the way its own clients do: a room or chat channel by joining it (see
    `enter`), a listening session (`ls:<id>`) by listening along, a playlist (`pl:<id>`) by opening it.
    The target is None for the last two (they take no chat messages)."""
    if topic.startswith("ls:"):
        return None, await client.request("session_join", {"session_id": topic[3:]})
    if topic.startswith("pl:"):
        return None, await client.request("playlist_open", {"playlist_id": topic[3:]})
    return await enter(client, Target.parse(topic))


def notify(redis_url: str, user_id: str, *, title: str, body: str, priority: str, kind: str,
           data: dict[str, Any], ns: str) -> dict[str, Any]:
    """Notify a user as the backend does; the channels it was routed to and its delivery status."""
    return asyncio.run(notify_async(redis_url, user_id, title=title, body=body, priority=priority, kind=kind,
                                    data=data, ns=ns))


async def notify_async(redis_url: str, user_id: str, *, title: str, body: str, priority: str, kind: str,
                       data: dict[str, Any], ns: str) -> dict[str, Any]:
    """`notify` for callers already on an event loop (the guide's hub actions). `redis_url` is the
    services' Redis (`Endpoints.cluster_or_redis_url`): a cluster's gets SPUBLISH, as the workers do."""
    from spotctl.clients.redis import errors, key_of, open_async
    from spotctl_sandbox.realtime import publish

    target = require("REDIS_URL", redis_url)
    client = open_async(target, socket_connect_timeout=2)
    try:
        with reaching(key_of(target), target, *errors(), OSError):
            nid = await publish.publish_notification(client, user_id, title=title, body=body, priority=priority,
                                                     kind=kind, data=data, namespace=ns)
            status = await publish.notification_status(client, nid, namespace=ns) or {}
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        await client.aclose()
    return {"id": nid, "user": user_id, "namespace": ns, "priority": status.get("priority", priority),
            "kind": kind, "channels": [c for c in status.get("channels", "").split(",") if c],
            "status": status.get("status")}


CHANNELS_SQL = """
SELECT c.id, c.kind, c.name, c.created_by, count(m.user_id) AS members
FROM hub_channels c LEFT JOIN hub_members m ON m.channel_id = c.id
WHERE c.ns = %s GROUP BY c.id ORDER BY c.id DESC LIMIT %s
"""


def topics(redis_url: str, database_url: str, ns: str, limit: int = 200) -> list[dict[str, Any]]:
    """Chat channels (PostgreSQL, with their member counts) and the rooms, listening sessions and
    playlists some hub worker follows now (Redis pub/sub, with how many workers subscribe: room
    membership lives in the workers' memory, so a room's member count is not kept anywhere). Each
    connected user's own `user:<id>` topic is left out."""
    from spotctl.clients.postgres import PgClient
    from spotctl.clients.redis import RedisClient
    from spotctl_sandbox.realtime import keys
    from spotctl_sandbox.realtime.topics import Kind, Topic

    rows: list[dict[str, Any]] = []
    with PgClient(database_url) as pg:
        try:
            found = pg.rows(CHANNELS_SQL, (ns, limit))
        except SpotctlError:  # no hub tables yet: the hub has not started against this database
            found = []
    rows += [{"topic": str(Topic.chat(c["id"])), "kind": c["kind"], "name": c["name"], "members": int(c["members"]),
              "workers": None, "created_by": c["created_by"]} for c in found]
    with RedisClient(redis_url, timeout=5) as r:
        counts = r.subscribed(keys.channel_pattern(ns), limit)
    for channel, subscribed in counts.items():
        try:
            _, topic = keys.parse_channel(channel)
        except ValueError:  # not a topic channel the hub made
            continue
        if topic.kind is Kind.USER:
            continue
        for row in rows:
            if row["topic"] == str(topic):
                row["workers"] = subscribed
                break
        else:
            rows.append({"topic": str(topic), "kind": topic.kind.value, "name": topic.key, "members": None,
                         "workers": subscribed, "created_by": None})
    return rows


def stats(metrics_url: str, interval: float) -> dict[str, Any]:
    """Health, and per worker: connections, subscriptions, frame totals and (over `interval` s) rates."""
    import httpx

    base = require("HUB_METRICS_URL", metrics_url).rstrip("/")
    with reaching("HUB_METRICS_URL", base, httpx.TransportError), httpx.Client(timeout=5) as http:
        health = http.get(f"{base}/health").json()
        first = http.get(f"{base}/metrics").text
        if interval:
            time.sleep(interval)
        last = http.get(f"{base}/metrics").text if interval else first
    before, after = worker_stats(first), worker_stats(last)
    rows = with_rates(before, after, interval)
    # over the interval when something was delivered in it, else since the hub started
    delivered = delivery_buckets(last)
    since = delivery_buckets(first) if interval else {}
    window = "interval" if interval else "since start"
    if quantile_ms(since, delivered, 0.5) is None:
        since, window = {}, "since start"
    return {"health": health, "workers": rows,
            "delivery": {"p50_ms": quantile_ms(since, delivered, 0.5), "p99_ms": quantile_ms(since, delivered, 0.99),
                         "window": window},
            "total": {"connections": sum(r["connections"] for r in rows),
                      "in_per_s": sum(r["in_per_s"] or 0 for r in rows) if interval else None,
                      "out_per_s": sum(r["out_per_s"] or 0 for r in rows) if interval else None}}
