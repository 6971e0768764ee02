"""Fixtures for the hub's tests: the real hub (via `stack`), Redis, users with tokens, and extra hub
processes on free ports for fan-out and shutdown tests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from spotctl_sandbox.common import tokens
from spotctl_sandbox.db import amigrate
from spotctl_sandbox.playlists import PlaylistService, PostgresDirectory, open_repository
from spotctl_sandbox.realtime.client import HubClient
from tests.support.throwaway import Throwaway, redis_server_bin

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The dev JWT secret is short on purpose; PyJWT's key-length warning is not our failure."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"))


@dataclass
class Hub:
    url: str
    metrics_url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def hub(stack: Any) -> Hub:
    stack.up("hub")
    return Hub(stack.env["HUB_URL"], stack.env["HUB_METRICS_URL"], stack.env)


@pytest.fixture
async def redis(hub: Hub) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(hub.env["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture
def ns(redis: aioredis.Redis) -> Iterator[str]:
    """A namespace of this test's own: tenants are isolated, so tests never see each other's data."""
    name = "t" + uuid.uuid4().hex[:10]
    yield name


@pytest.fixture
async def cleanup(redis: aioredis.Redis, ns: str) -> AsyncIterator[None]:
    yield
    keys = [k async for k in redis.scan_iter(match=f"hub:{ns}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


UserFactory = Callable[..., Awaitable[HubClient]]


@pytest.fixture
async def user(hub: Hub, redis: aioredis.Redis, ns: str, cleanup: None) -> AsyncIterator[UserFactory]:
    """`await user("alice")` -> a connected HubClient acting as a fresh user (closed after the test)."""
    clients: list[HubClient] = []
    suffix = uuid.uuid4().hex[:6]

    async def make(name: str, *, url: str | None = None, namespace: str | None = None, user_id: str | None = None,
                   roles: tuple[str, ...] = ("user",), **kwargs: Any) -> HubClient:
        """`user_id`: act as this account (an API user: see `accounts`) instead of a fresh hub-only id."""
        tok = await tokens.issue(redis, hub.env["JWT_SECRET"], user_id or f"{name}-{suffix}", name, roles=roles)
        client = HubClient(url or hub.url, tok, namespace=namespace or ns, **kwargs)
        await client.connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture(scope="session")
async def database(hub: Hub) -> AsyncIterator[AsyncConnectionPool]:
    """The stack's PostgreSQL (the hub applied the shared schema at start: users, songs, playlists)."""
    pool = AsyncConnectionPool(hub.env["DATABASE_URL"], min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True})
    await pool.open()
    async with pool.connection() as conn:
        await amigrate(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def accounts(database: AsyncConnectionPool) -> Callable[..., Awaitable[list[str]]]:
    """`await accounts(3)` -> ids of new API users (the playlists' owners and collaborators are those)."""
    async def make(count: int) -> list[str]:
        async with database.connection() as conn:
            ids = []
            for _ in range(count):
                cur = await conn.execute("INSERT INTO users (email, name, password_hash) VALUES (%s, %s, 'x') "
                                         "RETURNING id", (f"{uuid.uuid4().hex}@hub.test", "hub test"))
                row = await cur.fetchone()
                assert row is not None
                ids.append(str(row[0]))
        return ids

    return make


@pytest.fixture(scope="session")
async def songs(database: AsyncConnectionPool) -> list[int]:
    """Six songs of one artist, made once per session."""
    async with database.connection() as conn:
        cur = await conn.execute("INSERT INTO artists (name) VALUES ('Hub Test Band') RETURNING id")
        artist = await cur.fetchone()
        assert artist is not None
        ids = []
        for i in range(6):
            cur = await conn.execute("INSERT INTO songs (title, artist_id, artist, duration_s, audio_path) "
                                     "VALUES (%s, %s, 'Hub Test Band', 60, 'none') RETURNING id",
                                     (f"song {i}", artist[0]))
            row = await cur.fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


@pytest.fixture
async def playlists(hub: Hub, database: AsyncConnectionPool) -> AsyncIterator[PlaylistService]:
    """The playlist rules on the store the hub uses (the API's), to set playlists up as the API would."""
    repo = await open_repository(hub.env.get("MONGO_URL"), database)
    yield PlaylistService(repo, PostgresDirectory(database))
    await repo.close()


async def token(redis: aioredis.Redis, hub: Hub, user_id: str, name: str = "") -> str:
    return await tokens.issue(redis, hub.env["JWT_SECRET"], user_id, name or user_id)


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def next_of(client: HubClient, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next pushed frame of `kind`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.recv(timeout=max(0.01, deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame


def metric_totals(metrics_url: str, name: str, by: str | None = None) -> dict[str, float]:
    """One series of the hub's /metrics summed over workers, keyed by the label `by` ("" without)."""
    with urllib.request.urlopen(f"{metrics_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                key = sample.labels.get(by, "") if by else ""
                out[key] = out.get(key, 0.0) + sample.value
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lone_redis() -> Iterator[tuple[Throwaway, int]]:
    """A Redis of the test's own (server, port), to kill, restart or freeze without touching the stack's."""
    port = free_port()
    server = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no"])
    server.start()
    yield server, port
    server.stop()


async def answering(client: aioredis.Redis, timeout_s: float = 10.0) -> aioredis.Redis:
    """`client` once its Redis answers a PING (a server just started or restarted)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await client.ping()
            return client
        except RedisConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


class HubProcess:
    """An extra hub (supervisor + workers) of the test's own, on free ports."""

    def __init__(self, env: dict[str, str], tmp: Path, *, workers: int = 1,
                 extra: dict[str, str] | None = None) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.env = {**env, "PORT": str(self.port), "METRICS_PORT": str(self.metrics_port),
                    "HUB_WORKERS": str(workers), **(extra or {})}
        self.log = tmp / f"hub-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.hub"], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"extra hub did not start; see {self.log}")
            time.sleep(0.1)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture(scope="session")
def extra_hubs(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two more hub processes sharing the same Redis: a second 'host' for fan-out tests."""
    tmp = tmp_path_factory.mktemp("hubs")
    env = {k: v for k, v in hub.env.items() if k not in ("PORT", "METRICS_PORT")}
    pair = (HubProcess(env, tmp).start(), HubProcess(env, tmp).start())
    yield pair
    for proc in pair:
        proc.stop()


@pytest.fixture(scope="session")
def unlimited_hub(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub without rate limits, for tests that send hundreds of frames (its log is theirs to read)."""
    env = {k: v for k, v in hub.env.items() if k not in ("PORT", "METRICS_PORT")}
    proc = HubProcess(env, tmp_path_factory.mktemp("unlimited"), extra={
        "HUB_CONN_RATE": "100000", "HUB_CONN_BURST": "100000", "HUB_USER_RATE": "100000/second"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def hub_factory(hub: Hub, tmp_path: Path) -> Iterator[Callable[..., HubProcess]]:
    started: list[HubProcess] = []

    def make(**extra: str) -> HubProcess:
        env = {k: v for k, v in hub.env.items() if k not in ("PORT", "METRICS_PORT")}
        proc = HubProcess(env, tmp_path, extra=extra)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


__all__ = ["Hub", "HubProcess", "next_of", "token", "until"]
