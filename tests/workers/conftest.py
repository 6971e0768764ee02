"""Fixtures for the workers' flow tests: the running workers process and clients of its stores.

Everything a test creates carries a fresh id (users, songs, artists, Redis keys), so the tests can run
against stores other people use at the same time, and each test removes its own rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0,
                     what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def env(stack: Any) -> dict[str, str]:
    stack.up("workers")
    return dict(stack.env)


@pytest.fixture(scope="session")
async def redis(env: dict[str, str]) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def workers(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=env["WORKERS_URL"], timeout=10) as client:
        yield client


@dataclass
class Catalogue:
    """Rows made for one test in the API's tables; `cleanup` deletes them (cascades to history)."""

    conn: psycopg.AsyncConnection[Any]
    users: list[int] = field(default_factory=list)
    artists: list[int] = field(default_factory=list)

    async def user(self, name: str = "listener") -> tuple[int, str]:
        email = f"{name}-{uuid.uuid4().hex[:10]}@test.local"
        row = await (await self.conn.execute(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, 'x') RETURNING id",
            (email, name))).fetchone()
        assert row is not None
        self.users.append(row[0])
        return int(row[0]), email

    async def artist(self, name: str = "Artist") -> int:
        row = await (await self.conn.execute(
            "INSERT INTO artists (name) VALUES (%s) RETURNING id", (f"{name} {uuid.uuid4().hex[:6]}",))).fetchone()
        assert row is not None
        self.artists.append(row[0])
        return int(row[0])

    async def song(self, artist_id: int, title: str = "Song") -> int:
        row = await (await self.conn.execute(
            "INSERT INTO songs (title, artist_id, artist, duration_s, audio_path) "
            "SELECT %s, id, name, 180, 'x.wav' FROM artists WHERE id = %s RETURNING id",
            (title, artist_id))).fetchone()
        assert row is not None
        return int(row[0])

    async def played(self, user_id: int, song_id: int, seconds_ago: float = 60) -> None:
        await self.conn.execute(
            "INSERT INTO listening_history (user_id, song_id, played_at) "
            "VALUES (%s, %s, now() - make_interval(secs => %s))", (user_id, song_id, seconds_ago))

    async def follow(self, user_id: int, artist_id: int) -> None:
        await self.conn.execute("INSERT INTO follows (user_id, artist_id) VALUES (%s, %s)", (user_id, artist_id))

    async def cleanup(self) -> None:
        if self.users:
            await self.conn.execute("DELETE FROM users WHERE id = ANY(%s)", (self.users,))
        if self.artists:
            await self.conn.execute("DELETE FROM artists WHERE id = ANY(%s)", (self.artists,))


@pytest.fixture
async def catalogue(env: dict[str, str], workers: httpx.AsyncClient) -> AsyncIterator[Catalogue]:
    async def schema_ready() -> bool:
        health = (await workers.get("/health")).json()
        return bool(health["workers"]["schema"]["state"] == "running")

    await eventually(schema_ready, 30, "the workers to apply the schema")
    conn = await psycopg.AsyncConnection.connect(env["DATABASE_URL"], autocommit=True)
    cat = Catalogue(conn)
    yield cat
    await cat.cleanup()
    await conn.close()


async def take_from_queue(channel: Any, queue_name: str, marker: bytes, timeout: float = 15) -> Any:
    """Get (and ack) the message containing `marker` from a queue; others' messages go back."""
    queue = await channel.declare_queue(queue_name, passive=True)

    async def probe() -> Any:
        message = await queue.get(fail=False, no_ack=False)
        if message is None:
            return None
        if marker in message.body:
            await message.ack()
            return message
        await message.nack(requeue=True)
        return None

    return await eventually(probe, timeout, f"{marker!r} in {queue_name}")
