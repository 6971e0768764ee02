"""A dependency down or frozen: the API still starts, /health says "degraded" naming it, requests that
need it get a 503 naming it — at once, not when the client gives up — nothing half-done is kept, and
it recovers without a restart when the dependency returns. Throwaway Redis, Kafka (tansu) and
PostgreSQL servers are stopped, started, frozen (SIGSTOP: the process answers nothing, its port stays
open, as `spotctl chaos pause` does) and thawed here."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.conftest import KafkaProbe, SpawnedApi, free_port, register_and_login, wait_for
from tests.support.throwaway import Throwaway, postgres_argv, redis_server_bin, tansu

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


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
    kafka = tansu(port)
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
