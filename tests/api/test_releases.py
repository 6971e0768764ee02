"""Flow 3, API side: PostgreSQL insert -> `release` message on the notifications fanout, confirmed."""

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
from tests.api.conftest import ApiUser, SpawnedApi, Vhost, free_port, in_vhost

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
    message = await notifications.get(timeout=5)
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


async def test_rabbitmq_gone_is_503_with_nothing_committed_and_recovers_without_restart(
        api_env: dict[str, str], vhost: Vhost, spawn_api: Callable[..., Awaitable[SpawnedApi]],
        pg: psycopg.Connection, admin: ApiUser) -> None:
    amqp = in_vhost(api_env["AMQP_URL"], vhost.name)
    api = await spawn_api(AMQP_URL=amqp)
    user = admin  # releases are for the artist's owner or an admin
    async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
        conn, queue = await bind_listener(amqp)
        ok = await http.post("/api/releases", headers=user.auth, json={"artist_id": 3, "title": "Before"})
        assert ok.status_code == 201, ok.text
        await conn.close()

        await vhost.delete()  # the broker closes the API's connection
        title = f"During {uuid.uuid4().hex[:6]}"
        down = await http.post("/api/releases", headers=user.auth, json={"artist_id": 3, "title": title})
        assert down.status_code == 503 and down.json()["dependency"] == "rabbitmq"
        assert "<" not in down.json()["detail"] and "object at 0x" not in down.json()["detail"]
        assert pg.execute("SELECT 1 FROM songs WHERE title = %s", (title,)).fetchone() is None  # rolled back

        await vhost.create()
        conn, queue = await bind_listener(amqp)
        async with conn:
            deadline = time.monotonic() + 30
            while True:  # aio-pika's robust connection comes back by itself (5 s reconnect interval)
                resp = await http.post("/api/releases", headers=user.auth, json={"artist_id": 3, "title": title})
                if resp.status_code == 201 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert resp.status_code == 201, resp.text
            message = await queue.get(timeout=5)
            assert json.loads(message.body)["title"] == title
            await message.ack()


async def test_rabbitmq_unreachable_is_a_json_503_naming_it_without_object_reprs(
        spawn_api: Callable[..., Awaitable[SpawnedApi]], admin: ApiUser, pg: psycopg.Connection) -> None:
    api = await spawn_api(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", API_DEPENDENCY_TIMEOUT_S="1")
    title = f"Unheard {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
        resp = await http.post("/api/releases", headers=admin.auth, json={"artist_id": 3, "title": title})
    assert resp.status_code == 503 and resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["dependency"] == "rabbitmq" and body["detail"].startswith("rabbitmq is unavailable: cannot connect")
    assert "<" not in body["detail"] and "Error:" not in body["detail"], body["detail"]
    assert pg.execute("SELECT 1 FROM songs WHERE title = %s", (title,)).fetchone() is None
