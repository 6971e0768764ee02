"""PostgreSQL or Redis frozen under the hub (SIGSTOP: ports open, nothing answers, as `spotctl chaos
pause` does): frames that need it fail at once with `unavailable` naming it, the connection and its
keepalive survive the backlog, rate limits judge when frames arrived (not when a stalled hub handled
them), and a send retried with its `client_msg_id` is stored and delivered once. Throwaway servers
of the test's own, so the session stack is never frozen."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.common import tokens
from spotctl_sandbox.realtime.client import HubClient, HubError
from tests.support.throwaway import Throwaway, postgres_argv, redis_server_bin

from .conftest import Hub, HubProcess, free_port, next_of

pytestmark = pytest.mark.stack

PATIENT_CLIENT_S = 6.0  # longer than the hub's bound (1.5 s): an answer that waits for the thaw fails the test


async def eventually(attempt: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """The first result of `attempt` that does not raise HubError (polling)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await attempt()
        except HubError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_frozen_postgres_fails_chat_at_once_naming_it_and_a_retry_stores_it_once(
        hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None, hub_factory: Callable[..., HubProcess],
        throwaways: list[Throwaway], pg_dir: Path) -> None:
    port = free_port()
    initdb, server = postgres_argv(pg_dir / "data", port)
    subprocess.run(initdb, check=True, capture_output=True, timeout=120)
    pg = Throwaway(server)
    throwaways.append(pg)
    pg.start()
    proc = hub_factory(DATABASE_URL=f"postgresql://spotify@127.0.0.1:{port}/postgres", HUB_WORKERS="1",
                       WS_HEARTBEAT_INTERVAL="1").start()
    tok = await tokens.issue(redis, hub.env["JWT_SECRET"], f"ann-{ns}", "Ann")
    ann = HubClient(proc.url, tok, namespace=ns, reconnect=False)
    await ann.connect()
    joined = await eventually(lambda: ann.request("channel_join", {"name": "ops"}))
    cid = joined["channel"]["id"]
    await ann.request("chat_message", {"channel_id": cid, "text": "before"})

    send = {"channel_id": cid, "text": "during", "client_msg_id": "m-1"}
    pg.freeze()
    try:
        with pytest.raises(HubError) as stalled:
            await ann.request("chat_message", send, timeout=PATIENT_CLIENT_S)
        # a backlog while it is frozen: answered, and the connection's keepalive is not starved
        backlog = await asyncio.gather(*(ann.request("chat_message", {"channel_id": cid, "text": f"x{i}"},
                                                     timeout=PATIENT_CLIENT_S) for i in range(24)),
                                       return_exceptions=True)
        await asyncio.sleep(2.5)  # more than two heartbeat intervals with the database frozen
        assert await ann.request("ping", timeout=PATIENT_CLIENT_S) == {}
    finally:
        pg.thaw()
    assert stalled.value.code == "unavailable" and stalled.value.content["dependency"] == "postgres"
    assert {a.code if isinstance(a, HubError) else repr(a) for a in backlog} == {"unavailable"}

    thawed = time.monotonic()
    ack = await eventually(lambda: ann.request("chat_message", send, timeout=PATIENT_CLIENT_S), timeout=10)
    print(f"chat answered again {time.monotonic() - thawed:.2f} s after the thaw")
    assert await ann.request("chat_message", send) == ack  # a retry gets the first answer
    history = await ann.request("history", {"channel_id": cid})
    assert [m["text"] for m in history["messages"]] == ["during", "before"]  # errors left nothing
    assert ann.connects == 1
    await ann.close()


async def test_a_client_at_a_legal_pace_through_a_redis_stall_is_neither_limited_nor_closed(
        hub: Hub, ns: str, hub_factory: Callable[..., HubProcess], throwaways: list[Throwaway]) -> None:
    """3 frames/s allowed per connection and per user; the client sends 2/s throughout a 4 s stall.
    Judged when handled, the backlog was one burst: `rate_limited`, then a close for abuse."""
    port = free_port()
    store = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no"])
    throwaways.append(store)
    store.start()
    url = f"redis://127.0.0.1:{port}/0"
    proc = hub_factory(REDIS_URL=url, HUB_WORKERS="1", HUB_CONN_RATE="3", HUB_CONN_BURST="3",
                       HUB_USER_RATE="3/second", HUB_MAX_STRIKES="3").start()
    own = aioredis.from_url(url)
    tok = await tokens.issue(own, hub.env["JWT_SECRET"], f"cat-{ns}", "Cat")
    await own.aclose()
    cat = HubClient(proc.url, tok, namespace=ns, reconnect=False)
    await cat.connect()

    sent: list[asyncio.Task[Any]] = []
    for i in range(14):  # 7 s at 2 frames/s; the stall is seconds 1 to 5
        if i == 2:
            store.freeze()
        if i == 10:
            store.thaw()
        sent.append(asyncio.create_task(cat.request("join", {"room": f"r{i}"}, timeout=30)))
        await asyncio.sleep(0.5)
    answers = await asyncio.gather(*sent, return_exceptions=True)
    codes = [a.code if isinstance(a, HubError) else "ok" if isinstance(a, dict) else repr(a) for a in answers]
    assert "rate_limited" not in codes and "closed" not in codes, codes
    assert codes[:2] == ["ok", "ok"] and codes[-1] == "ok", codes
    assert (await cat.request("join", {"room": "after"}))["room"] == "after"
    assert cat.connects == 1
    await cat.close()


async def test_a_send_whose_publish_timed_out_is_delivered_once_when_retried(
        hub: Hub, ns: str, hub_factory: Callable[..., HubProcess], throwaways: list[Throwaway],
        database: AsyncConnectionPool) -> None:
    """The row is stored, then Redis freezes before the publish answers: `unavailable`, and the
    frozen Redis runs the publish when thawed. The retry finds that frame instead of sending another."""
    port = free_port()
    store = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no"])
    throwaways.append(store)
    store.start()
    url = f"redis://127.0.0.1:{port}/0"
    proc = hub_factory(REDIS_URL=url, HUB_WORKERS="1").start()
    own = aioredis.from_url(url)
    dan = HubClient(proc.url, await tokens.issue(own, hub.env["JWT_SECRET"], f"dan-{ns}", "Dan"), namespace=ns)
    eve = HubClient(proc.url, await tokens.issue(own, hub.env["JWT_SECRET"], f"eve-{ns}", "Eve"), namespace=ns)
    await own.aclose()
    await dan.connect()
    await eve.connect()
    cid = (await dan.request("channel_join", {"name": f"late-{uuid.uuid4().hex[:6]}"}))["channel"]["id"]
    await eve.request("channel_join", {"channel_id": cid})
    send = {"channel_id": cid, "text": "late one", "client_msg_id": "late-1"}

    # hold the send in its INSERT (the channel row locked), freeze Redis, then let the INSERT through
    async with await psycopg.AsyncConnection.connect(hub.env["DATABASE_URL"]) as lock:
        await lock.execute("SELECT 1 FROM hub_channels WHERE id = %s FOR UPDATE", (cid,))
        first = asyncio.create_task(dan.request("chat_message", send, timeout=PATIENT_CLIENT_S))
        await _insert_waiting(database, cid)
        store.freeze()
        await lock.commit()
    try:
        with pytest.raises(HubError) as failed:
            await first
    finally:
        store.thaw()
    assert failed.value.code == "unavailable" and failed.value.content["dependency"] == "redis"

    ack = await eventually(lambda: dan.request("chat_message", send), timeout=10)
    delivered = await next_of(eve, "chat_message")
    assert delivered["id"] == ack["frame_id"] and delivered["content"]["message_id"] == ack["message_id"]
    with pytest.raises(asyncio.TimeoutError):
        await next_of(eve, "chat_message", timeout=1.0)  # no second copy
    async with database.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM hub_messages WHERE channel_id = %s", (cid,))
        assert await cur.fetchone() == (1,)
    await dan.close()
    await eve.close()


async def _insert_waiting(database: AsyncConnectionPool, cid: int) -> None:
    """Until the hub's INSERT into the channel waits on the test's lock."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        async with database.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND query LIKE 'INSERT INTO hub_messages%%'")
            row = await cur.fetchone()
        if row is not None and row[0] > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the hub's INSERT never waited on the lock")


async def test_a_send_retried_with_its_client_msg_id_is_stored_and_delivered_once(user: Any) -> None:
    ann, ben = await user("ann"), await user("ben")
    cid = (await ann.request("channel_join", {"name": "retries"}))["channel"]["id"]
    await ben.request("channel_join", {"channel_id": cid})
    send = {"channel_id": cid, "text": "once", "client_msg_id": "c-1"}
    first = await ann.request("chat_message", send)
    assert await ann.request("chat_message", send) == first  # the answer the first attempt got
    assert (await next_of(ben, "chat_message"))["content"]["message_id"] == first["message_id"]
    with pytest.raises(HubError) as reused:
        await ann.request("chat_message", {**send, "text": "something else"})
    assert reused.value.code == "conflict"
    history = await ben.request("history", {"channel_id": cid})
    assert [m["text"] for m in history["messages"]] == ["once"]

    await ann.request("join", {"room": "lobby"})
    await ben.request("join", {"room": "lobby"})
    shout = {"room": "lobby", "data": {"hi": 1}, "client_msg_id": "r-1"}
    sent = await ann.request("room_message", shout)
    assert await ann.request("room_message", shout) == sent
    frame = await next_of(ben, "room_message")
    assert frame["id"] == sent["message_id"] and frame["content"]["client_msg_id"] == "r-1"
    with pytest.raises(asyncio.TimeoutError):
        await next_of(ben, "room_message", timeout=0.5)  # no second copy (of either)
    with pytest.raises(asyncio.TimeoutError):
        await next_of(ben, "chat_message", timeout=0.1)
