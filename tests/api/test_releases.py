"""Flow 3, API side: PostgreSQL insert + `release` message in the outbox, one transaction -> the relay
publishes it on the notifications fanout (persistent, confirmed, mandatory)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import httpx
import psycopg
import pytest

from spotctl_sandbox.events import NOTIFICATIONS_EXCHANGE, declare_exchanges
from tests.api.conftest import ApiUser, SpawnedApi, Vhost, free_port, in_vhost, register_and_login, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def test_release_inserts_the_song_and_fans_out_a_persistent_message(
        http: httpx.AsyncClient, admin: ApiUser, pg: psycopg.Connection,
        notifications: aio_pika.abc.AbstractQueue) -> None:
    title = f"Brand New {uuid.uuid4().hex[:6]}"
    resp = await http.post("/api/releases", headers=admin.auth, json={"artist_id": 3, "title": title})

    assert resp.status_code == 201, resp.text
    song = resp.json()["song"]
    row = pg.execute("SELECT title, artist_id, audio_path FROM songs WHERE id = %s", (song["id"],)).fetchone()
    assert row is not None and row[0] == title and row[1] == 3 and row[2].endswith(".wav")
    assert song["id"] >= 1_000_000  # runtime ids never collide with the seed's
    message = await _next_message(notifications, timeout=10)
    await message.ack()
    body = json.loads(message.body)
    assert body["type"] == "release" and body["song_id"] == song["id"] and body["artist_id"] == 3
    assert body["title"] == title and body["artist"] and isinstance(body["ts"], float)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_release_for_an_unknown_artist_is_404_and_inserts_nothing(
        http: httpx.AsyncClient, user: ApiUser, pg: psycopg.Connection) -> None:
    title = f"Ghost {uuid.uuid4().hex[:6]}"
    resp = await http.post("/api/releases", headers=user.auth, json={"artist_id": 999999995, "title": title})
    assert resp.status_code == 404 and resp.json()["detail"] == "artist 999999995 not found"
    assert pg.execute("SELECT 1 FROM songs WHERE title = %s", (title,)).fetchone() is None


async def bind_listener(amqp: str) -> tuple[aio_pika.abc.AbstractRobustConnection, aio_pika.abc.AbstractQueue]:
    conn = await aio_pika.connect_robust(amqp)
    channel = await conn.channel()
    await declare_exchanges(channel)
    queue = await channel.declare_queue("test.api.releases", auto_delete=True)
    await queue.bind(NOTIFICATIONS_EXCHANGE)
    return conn, queue


async def test_rabbitmq_gone_keeps_the_release_and_notifies_once_it_is_back(
        api_env: dict[str, str], vhost: Vhost, spawn_api: Callable[..., Awaitable[SpawnedApi]],
        scratch_db: str) -> None:
    """The release is stored with its notification in the outbox; RabbitMQ being gone costs the client
    nothing, and followers are notified once the broker is back (the relay's robust connection
    reconnects by itself; no restart)."""
    amqp = in_vhost(api_env["AMQP_URL"], vhost.name)
    api = await spawn_api(AMQP_URL=amqp, DATABASE_URL=scratch_db, ADMIN_EMAIL="relay-admin@test.spotctl.dev",
                          ADMIN_PASSWORD="relay-admin-pw")
    async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
        await wait_for(lambda: _schema_ready(http), what="the scratch database's schema")
        login = await http.post("/api/auth/login", json={"email": "relay-admin@test.spotctl.dev",
                                                         "password": "relay-admin-pw"})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        with psycopg.connect(scratch_db, autocommit=True) as db:
            db.execute("INSERT INTO artists (id, name) VALUES (3, 'The Relays')")
            conn, queue = await bind_listener(amqp)
            ok = await http.post("/api/releases", headers=auth, json={"artist_id": 3, "title": "Before"})
            assert ok.status_code == 201, ok.text
            assert json.loads((await _next_message(queue, timeout=10)).body)["title"] == "Before"
            await conn.close()

            await vhost.delete()  # the broker closes the API's connection
            title = f"During {uuid.uuid4().hex[:6]}"
            during = await http.post("/api/releases", headers=auth, json={"artist_id": 3, "title": title})
            assert during.status_code == 201, during.text
            assert db.execute("SELECT 1 FROM songs WHERE title = %s", (title,)).fetchone() == (1,)
            waiting = db.execute("SELECT message_id, payload->>'title' FROM outbox").fetchall()
            assert waiting == [(during.json()["notification"]["message_id"], title)]

            await vhost.create()
            conn, queue = await bind_listener(amqp)
            async with conn:
                message = await _next_message(queue, timeout=30)
                assert json.loads(message.body)["title"] == title
                assert message.message_id == during.json()["notification"]["message_id"]
                await message.ack()
            assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


async def _schema_ready(http: httpx.AsyncClient) -> bool:
    return bool((await http.get("/health")).json()["schema_ready"])


async def _next_message(queue: aio_pika.abc.AbstractQueue, timeout: float) -> aio_pika.abc.AbstractIncomingMessage:
    deadline = time.monotonic() + timeout
    while True:
        message = await queue.get(fail=False)
        if message is not None:
            return message
        assert time.monotonic() < deadline, f"no message within {timeout} s"
        await asyncio.sleep(0.2)


async def test_rabbitmq_unreachable_is_a_json_503_naming_it_without_object_reprs(
        spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    """What still talks to RabbitMQ while the client waits (the recommendation RPC) fails fast and says so."""
    api = await spawn_api(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", API_DEPENDENCY_TIMEOUT_S="1")
    async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
        user = await register_and_login(http)
        resp = await http.get("/api/recommendations", headers=user.auth)
    assert resp.status_code == 503 and resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["dependency"] == "rabbitmq" and body["detail"].startswith("rabbitmq is unavailable: cannot connect")
    assert "<" not in body["detail"] and "Error:" not in body["detail"], body["detail"]
