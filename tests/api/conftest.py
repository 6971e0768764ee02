"""Fixtures for the API tests: the running API (`stack.up("api")`), clients for the stores it writes
to, a user factory, a Kafka probe that reads what landed on a topic, and `spawn_api` for extra API
processes with changed settings (fault and rate-limit tests)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from spotctl_sandbox.events import NOTIFICATIONS_EXCHANGE, declare_exchanges
from spotctl_sandbox.seed import seed

ROOT = Path(__file__).resolve().parents[2]
SEED_SONGS = 300


@pytest.fixture(scope="session")
async def api_env(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    """The stack's env with API_URL pointing at a running API.

    External mode (SPOTCTL_TEST_EXTERNAL=1) gets an API process of this session's own on a free port:
    the fixed dev port may already be held by another session's API, which stops when that session
    ends. The local runtime's API is `stack.up("api")`.
    """
    if os.environ.get("SPOTCTL_TEST_EXTERNAL") != "1":
        stack.up("api")
        yield dict(stack.env)
        return
    env = dict(stack.env)
    api = await launch_api(env, tmp_path_factory.mktemp("api"))
    yield {**env, "API_URL": api.url}
    stop(api.proc)


@pytest.fixture(scope="session")
def api_url(api_env: dict[str, str]) -> str:
    return api_env["API_URL"].rstrip("/")


@pytest.fixture(scope="session")
def seeded(api_env: dict[str, str]) -> None:
    """A small catalogue (ids 1..SEED_SONGS); a no-op where a bigger seed already ran."""
    seed(api_env["DATABASE_URL"], Path(api_env["MEDIA_DIR"]), songs=SEED_SONGS)


@pytest.fixture(scope="session")
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=15) as client:
        yield client


@pytest.fixture(scope="session")
async def redis(api_env: dict[str, str]) -> AsyncIterator[Redis]:
    client = Redis.from_url(api_env["REDIS_URL"], decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def pg(api_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(api_env["DATABASE_URL"], autocommit=True) as conn:
        yield conn


@dataclass(frozen=True)
class ApiUser:
    id: str
    email: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register_and_login(http: httpx.AsyncClient) -> ApiUser:
    email = f"t-{uuid.uuid4().hex[:12]}@test.spotctl.dev"
    password = "correct horse battery"
    resp = await http.post("/api/auth/register", json={"email": email, "name": "Tester", "password": password})
    assert resp.status_code == 201, resp.text
    login = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return ApiUser(id=resp.json()["id"], email=email, password=password, token=login.json()["access_token"])


@pytest.fixture
async def user(http: httpx.AsyncClient) -> ApiUser:
    return await register_and_login(http)


async def with_role(http: httpx.AsyncClient, pg: psycopg.Connection, *roles: str) -> ApiUser:
    """A fresh account granted `roles` in user_roles, logged in after the grant (so its token has them)."""
    made = await register_and_login(http)
    for role in roles:
        pg.execute("INSERT INTO user_roles (user_id, role) VALUES (%s, %s)", (int(made.id), role))
    login = await http.post("/api/auth/login", json={"email": made.email, "password": made.password})
    assert login.status_code == 200 and set(roles) <= set(login.json()["user"]["roles"]), login.text
    return ApiUser(id=made.id, email=made.email, password=made.password, token=login.json()["access_token"])


@pytest.fixture(scope="session")
async def admin(http: httpx.AsyncClient, pg: psycopg.Connection, api_env: dict[str, str]) -> ApiUser:
    return await with_role(http, pg, "admin")


class KafkaProbe:
    """Reads a topic by explicit partition assignment (no consumer-group wait)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        return consumer

    async def record_at(self, topic: str, partition: int, offset: int) -> dict[str, Any]:
        consumer = await self._consumer()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            record = await asyncio.wait_for(consumer.getone(), 10)
            assert record.offset == offset
            return dict(json.loads(record.value))
        finally:
            await consumer.stop()

    async def end_offsets(self, topic: str) -> dict[TopicPartition, int]:
        consumer = await self._consumer()
        try:
            await consumer.topics()  # fetches metadata, so partitions_for_topic knows the topic
            parts = consumer.partitions_for_topic(topic)
            tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
            return dict(await consumer.end_offsets(tps)) if tps else {}
        finally:
            await consumer.stop()

    async def find(self, topic: str, since: dict[TopicPartition, int],
                   match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        """The first record after `since` (end offsets taken before the action) that matches."""
        consumer = await self._consumer()
        try:
            tps = list(since) or [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, since.get(tp, 0))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        value = json.loads(record.value)
                        if match(value):
                            return dict(value)
            raise AssertionError(f"no matching record on {topic} within {timeout} s")
        finally:
            await consumer.stop()


@pytest.fixture(scope="session")
def kafka(api_env: dict[str, str]) -> KafkaProbe:
    return KafkaProbe(api_env["KAFKA_BOOTSTRAP_SERVERS"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SpawnedApi:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


async def launch_api(api_env: dict[str, str], log_dir: Path, **overrides: str) -> SpawnedApi:
    """Start another API process with some settings changed and wait until /health answers."""
    port = free_port()
    log = log_dir / f"api-{port}.log"
    env = {**os.environ, **api_env, "PORT": str(port), **overrides}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.api"], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{url}/health", timeout=5)).status_code == 200:
                    return SpawnedApi(url=url, proc=proc, log=log)
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"spawned API did not come up: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def spawn_api(api_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Awaitable[SpawnedApi]]]:
    """`await spawn_api(SETTING="value")`: an extra API process, stopped after the test."""
    started: list[SpawnedApi] = []

    async def start(**overrides: str) -> SpawnedApi:
        api = await launch_api(api_env, tmp_path, **overrides)
        started.append(api)
        return api

    yield start
    for api in started:
        stop(api.proc)


class Vhost:
    """A throwaway RabbitMQ vhost (management API): no real worker is bound there, and a test may
    delete it to cut the API off RabbitMQ, then create it again."""

    def __init__(self, mgmt_url: str) -> None:
        self.name = f"spotctl-api-test-{uuid.uuid4().hex[:8]}"
        self.mgmt = httpx.AsyncClient(base_url=mgmt_url.rstrip("/"))
        self.path = quote(self.name, safe="")

    async def create(self) -> None:
        (await self.mgmt.put(f"/api/vhosts/{self.path}")).raise_for_status()
        (await self.mgmt.put(f"/api/permissions/{self.path}/guest",
                             json={"configure": ".*", "write": ".*", "read": ".*"})).raise_for_status()

    async def delete(self) -> None:
        await self.mgmt.delete(f"/api/vhosts/{self.path}")


@pytest.fixture
async def vhost(api_env: dict[str, str]) -> AsyncIterator[Vhost]:
    mgmt = api_env.get("RABBITMQ_MGMT_URL")
    if not mgmt:
        pytest.skip("RABBITMQ_MGMT_URL is not set")
    made = Vhost(mgmt)
    await made.create()
    yield made
    await made.delete()
    await made.mgmt.aclose()


def in_vhost(amqp_url: str, vhost: str) -> str:
    return amqp_url.rsplit("/", 1)[0] + "/" + quote(vhost, safe="")


@pytest.fixture
async def notifications(api_env: dict[str, str]) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue bound to the fanout: it sees every release, like the workers' consumer does."""
    conn = await aio_pika.connect_robust(api_env["AMQP_URL"])
    async with conn:
        channel = await conn.channel()
        await declare_exchanges(channel)
        queue = await channel.declare_queue(f"test.api.releases.{uuid.uuid4().hex[:8]}", exclusive=True)
        await queue.bind(NOTIFICATIONS_EXCHANGE)
        yield queue


def _attachment_bodies() -> None:
    """POST /api/attachments takes the file itself as its body: schemathesis sends its PDF and audio
    bodies as raw bytes, as it does application/octet-stream (images it sends as real files)."""
    import schemathesis

    schemathesis.serializer.alias(["application/pdf", "audio/mpeg", "audio/ogg", "audio/x-wav"],
                                  "application/octet-stream")


_attachment_bodies()


@pytest.fixture
def scratch_db(api_env: dict[str, str]) -> Iterator[str]:
    """The URL of a database of its own on the stack's PostgreSQL (an API pointed at it applies the
    schema at start). For an API talking to other brokers than the stack's: in the stack's database
    the stack's own API would relay its outbox to the stack's brokers first."""
    name = f"spotctl_test_{uuid.uuid4().hex[:10]}"
    admin_url = api_env["DATABASE_URL"]
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the stack's PostgreSQL role may not create databases")
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 30, what: str = "the condition") -> None:
    """Poll `check` until it holds (a bound on how long, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.2)
