"""Fixtures for the analytics tests: the stack's analytics service and in-process parts on real stores.

The stack's analytics service runs with explicit partition assignment (no ~23 s group wait on the
local broker) and a small InfluxDB spill bound (so a test can fill it); both are compose variables
read when the stack is loaded, as are a short lateness and idle time (the scenario waits for a
minute to close). In-process processors read topics of their own (a fresh prefix per
test) into InfluxDB databases of their own, so tests never see each other's events.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg_pool import AsyncConnectionPool

os.environ.setdefault("ANALYTICS_CONSUMER_MODE", "assign")
os.environ.setdefault("ANALYTICS_SPILL_MAX", "300")
os.environ.setdefault("ANALYTICS_LATENESS_S", "2")  # the scenario's minute closes ~3 s after it ends
os.environ.setdefault("ANALYTICS_IDLE_S", "1")

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def env(stack: Any) -> dict[str, str]:
    stack.up("influxdb", "analytics")
    return dict(stack.env)


@pytest.fixture(scope="session")
async def redis(env: dict[str, str]) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(env["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def pool(env: dict[str, str]) -> AsyncIterator[AsyncConnectionPool]:
    from spotctl_sandbox.analytics.core.engine import apply_schema

    p = AsyncConnectionPool(env["DATABASE_URL"], min_size=1, max_size=4, open=False, kwargs={"autocommit": True})
    await p.open()
    async with p.connection() as conn:
        await apply_schema(conn)
    yield p
    await p.close()


@pytest.fixture(scope="session")
def mint(env: dict[str, str], redis: aioredis.Redis) -> Callable[..., Awaitable[str]]:
    """`await mint("analyst")`: a stack token with that role (or none with `mint()`)."""
    from spotctl_sandbox.analytics.api.auth import mint as mint_token

    async def make(*roles: str, user: str = "4242") -> str:
        token, _ = await mint_token(redis, env["JWT_SECRET"], user, f"user {user}", list(roles))
        return token

    return make


@pytest.fixture(scope="session")
async def api(env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=env["ANALYTICS_URL"], timeout=15) as client:
        yield client


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def make_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, records: list[tuple[str, bytes]], partition: int | None = None,
                  singly: bool = False) -> None:
    """`singly`: one request (one batch) per record, as the API sends its events; tansu's end offsets
    are the last batch's base offset + 1, right only then."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for topic, value in records:
            if singly:
                await producer.send_and_wait(topic, value, partition=partition)
            else:
                await producer.send(topic, value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
