"""Resilience of the workers process: it starts with its stores down, recovers when they return
(no restart) and on SIGTERM finishes the job in flight before exiting.

This test runs a private workers process against a private redis-server it starts and stops, with
RabbitMQ and Kafka pointed at closed ports so its consumers stay out of the shared brokers.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aio_pika
import httpx
import pytest
from aiosmtpd.controller import Controller
from bullmq import Job, Queue

from tests.workers.conftest import Catalogue, eventually

pytestmark = pytest.mark.stack
REDIS_SERVER = Path(sys.executable).with_name("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Private:
    redis_port: int
    url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path

    def start_redis(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(REDIS_SERVER), "--port", str(self.redis_port), "--save", "",
                                 "--appendonly", "no"], stdout=subprocess.DEVNULL)


class SlowMail:
    """An SMTP server that takes its time, so a mail job is surely in flight when SIGTERM comes."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(3)
        self.received.append(envelope.original_content or b"")
        return "250 OK"


@pytest.fixture
def slow_mail() -> Iterator[tuple[SlowMail, int]]:
    handler, port = SlowMail(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
async def private(env: dict[str, str], tmp_path: Path, slow_mail: tuple[SlowMail, int],
                  catalogue: Catalogue) -> AsyncIterator[Private]:
    redis_port, http_port = free_port(), free_port()
    dead = free_port()  # nothing listens there
    penv = {**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{dead}/%2F", "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{dead}",
            "PORT": str(http_port), "SMTP_PORT": str(free_port()), "PUSH_PORT": str(free_port()),
            "SMTP_URL": f"smtp://127.0.0.1:{slow_mail[1]}", "REPORTS_DIR": str(tmp_path / "reports")}
    log = tmp_path / "workers.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.workers"], env=penv,
                                stdout=out, stderr=subprocess.STDOUT)
    p = Private(redis_port, f"http://127.0.0.1:{http_port}", penv, proc, log)
    yield p
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def states(url: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        try:
            return dict((await client.get(url + "/health", timeout=2)).json()["workers"])
        except httpx.HTTPError:
            return {}


async def test_starts_without_redis_recovers_when_it_returns_and_drains_on_sigterm(
        private: Private, slow_mail: tuple[SlowMail, int], catalogue: Catalogue) -> None:
    async def waiting_for_redis() -> bool:
        w = await states(private.url)
        return bool(w) and w["recently-played"]["state"] == "waiting" and "redis" in w["recently-played"]["detail"]

    await eventually(waiting_for_redis, 40, "/health to show the worker waiting for Redis")
    w = await states(private.url)
    assert w["delivery"]["state"] == "waiting" and "rabbitmq" in w["delivery"]["detail"]
    assert w["analytics"]["state"] == "waiting" and "kafka" in w["analytics"]["detail"]
    async with httpx.AsyncClient(timeout=30) as client:
        refused = await client.post(private.url + "/jobs/daily-report", json={})
    assert refused.status_code == 503 and "redis" in refused.json()["error"]

    redis_proc = private.start_redis()
    try:
        async def running() -> bool:
            w = await states(private.url)
            return all(w[n]["state"] == "running" for n in ("recently-played", "email", "schema"))

        await eventually(running, 45, "the BullMQ workers to start once Redis is up")

        redis_proc.terminate()  # an outage while running ...
        redis_proc.wait(10)

        async def noticed() -> bool:
            return bool((await states(private.url))["recently-played"]["state"] == "waiting")

        await eventually(noticed, 30, "/health to report the Redis outage")
        redis_proc = private.start_redis()  # ... and the store comes back (empty: no persistence)
        await eventually(running, 45, "the workers to carry on once Redis is back")

        user, email = await catalogue.user("resilient")
        song = await catalogue.song(await catalogue.artist(), "After the outage")
        plays = Queue("recently-played", {"connection": private.env["REDIS_URL"]})
        play = await plays.add("update_recently_played", {"user_id": user, "song_id": song})

        async def played() -> bool:
            return bool(await plays.getJobState(play.id) == "completed")

        await eventually(played, 20, "a job enqueued after the outage to complete")
        await plays.close()

        jobs = Queue("email", {"connection": private.env["REDIS_URL"]})
        job = await jobs.add("email", {"to": email, "subject": "in flight", "body": "slow"})

        async def active() -> bool:
            return bool(await jobs.getJobState(job.id) == "active")

        await eventually(active, 30, "the mail job to be in flight")
        private.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(private.proc.wait, 30)
        assert code == 0 and time.monotonic() - started < 30
        assert await jobs.getJobState(job.id) == "completed"  # finished, not abandoned
        done = await Job.fromId(jobs, job.id)
        assert done is not None and done.returnvalue["sent_to"] == email
        assert len(slow_mail[0].received) == 1
        assert b"workers: stopped" in private.log.read_bytes()
        await jobs.close()
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


@pytest.fixture
async def vhost(env: dict[str, str]) -> AsyncIterator[str]:
    """A throwaway RabbitMQ vhost, so the private process shares no queue with the real workers."""
    mgmt = env.get("RABBITMQ_MGMT_URL")
    if not mgmt:
        pytest.skip("RABBITMQ_MGMT_URL is not set")
    name = f"spotctl-workers-test-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=mgmt.rstrip("/")) as client:
        (await client.put(f"/api/vhosts/{quote(name, safe='')}")).raise_for_status()
        (await client.put(f"/api/permissions/{quote(name, safe='')}/guest",
                          json={"configure": ".*", "write": ".*", "read": ".*"})).raise_for_status()
        yield name
        await client.delete(f"/api/vhosts/{quote(name, safe='')}")


async def test_sigterm_returns_unfinished_messages_to_their_queues(
        env: dict[str, str], vhost: str, tmp_path: Path) -> None:
    dead = free_port()
    amqp = env["AMQP_URL"].rsplit("/", 1)[0] + "/" + quote(vhost, safe="")
    port = free_port()
    penv = {**env, "AMQP_URL": amqp, "REDIS_URL": f"redis://127.0.0.1:{dead}/0",  # stores down: handlers
            "DATABASE_URL": f"postgresql://spotify:spotify@127.0.0.1:{dead}/spotify",  # keep retrying
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{dead}", "PORT": str(port), "SMTP_PORT": str(free_port()),
            "PUSH_PORT": str(free_port()), "REPORTS_DIR": str(tmp_path / "reports")}
    with (tmp_path / "workers.log").open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.workers"], env=penv,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        async def consuming() -> bool:
            w = await states(f"http://127.0.0.1:{port}")
            return bool(w) and all(w[q]["state"] == "running" for q in ("delivery", "cache-invalidation"))

        await eventually(consuming, 40, "the private consumers to attach")
        connection = await aio_pika.connect(amqp)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange("notifications")
            await exchange.publish(aio_pika.Message(json.dumps({"type": "release", "song_id": 1,
                                                                "artist_id": 1, "title": "t"}).encode(),
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key="")
            queues = ("notifications.delivery", "notifications.search-indexer", "notifications.cache-invalidation")

            async def taken() -> bool:  # delivered to the consumers, whose handlers now wait for the stores
                counts = [(await channel.declare_queue(q, passive=True)).declaration_result.message_count
                          for q in queues]
                return counts == [0, 0, 0]

            await eventually(taken, 10, "the consumers to take the message")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 40) == 0

            async def counts(suffix: str) -> list[int | None]:
                return [(await channel.declare_queue(q + suffix, passive=True)).declaration_result.message_count
                        for q in queues]

            async def returned() -> bool:  # nothing acked, nothing lost: each copy is back in its queue
                return await counts("") == [1, 1, 1]

            await eventually(returned, 10, "the unfinished messages to be back in their queues")
            assert await counts(".dlq") == [0, 0, 0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Proxy:
    """A TCP relay to PostgreSQL that a test can open later: the database 'comes back'."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        self.writers += [client_w, server_w]

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))

    def drop_connections(self) -> None:
        """Cut every relayed connection, as a PostgreSQL restart does (the proxy keeps listening)."""
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@asynccontextmanager
async def workers_behind(proxy: Proxy, env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[str, Queue]]:
    """The workers on a Redis of their own and PostgreSQL through `proxy` (RabbitMQ and Kafka away):
    yields their health URL and the recently-played queue; stops all of it after."""
    pg = urlsplit(env["DATABASE_URL"])
    redis_port, http_port, dead = free_port(), free_port(), free_port()
    penv = {**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DATABASE_URL": env["DATABASE_URL"].replace(f":{pg.port}/", f":{proxy.port}/"),
            "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{dead}/%2F", "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{dead}",
            "PORT": str(http_port), "SMTP_PORT": str(free_port()), "PUSH_PORT": str(free_port()),
            "REPORTS_DIR": str(tmp_path / "reports")}
    redis_proc = subprocess.Popen([str(REDIS_SERVER), "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)
    with (tmp_path / "workers.log").open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.workers"], env=penv,
                                stdout=out, stderr=subprocess.STDOUT)
    plays = Queue("recently-played", {"connection": penv["REDIS_URL"]})
    try:
        yield f"http://127.0.0.1:{http_port}", plays
    finally:
        await plays.close()
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        await proxy.close()
        redis_proc.terminate()
        redis_proc.wait(10)


async def test_postgres_outage_delays_jobs_without_losing_them(
        env: dict[str, str], tmp_path: Path, catalogue: Catalogue) -> None:
    pg = urlsplit(env["DATABASE_URL"])
    proxy = Proxy((pg.hostname or "127.0.0.1", pg.port or 5432))
    async with workers_behind(proxy, env, tmp_path) as (url, plays):
        async def schema_waits() -> bool:
            w = await states(url)
            return bool(w) and w["schema"]["state"] == "waiting" and "postgres" in w["schema"]["detail"]

        await eventually(schema_waits, 40, "/health to show PostgreSQL unreachable")
        user, _ = await catalogue.user()
        song = await catalogue.song(await catalogue.artist(), "Survives the outage")
        job = await plays.add("update_recently_played", {"user_id": user, "song_id": song, "ts": time.time()},
                              {"attempts": 20, "backoff": {"type": "exponential", "delay": 200}})
        await asyncio.sleep(3)
        assert await plays.getJobState(job.id) in ("active", "delayed", "waiting")  # retrying, not lost

        await proxy.open()  # the database is back

        async def recovered() -> bool:
            w = await states(url)
            return w["schema"]["state"] == "running" and await plays.getJobState(job.id) == "completed"

        # the job's next attempt may be one exponential step (up to ~25 s) after the database returns
        await eventually(recovered, 90, "the schema step and the delayed job to succeed")
        rows = await (await catalogue.conn.execute(
            "SELECT count(*) FROM listening_history WHERE user_id = %s", (user,))).fetchone()
        assert rows == (1,)


async def test_connections_postgres_dropped_are_replaced_before_a_job_gets_one(
        env: dict[str, str], tmp_path: Path, catalogue: Catalogue) -> None:
    pg = urlsplit(env["DATABASE_URL"])
    proxy = Proxy((pg.hostname or "127.0.0.1", pg.port or 5432))
    await proxy.open()
    user, _ = await catalogue.user()
    song = await catalogue.song(await catalogue.artist(), "Played after a restart")
    async with workers_behind(proxy, env, tmp_path) as (url, plays):
        async def play_once() -> str:
            """A play with one attempt: a stale pooled connection would fail it for good."""
            job = await plays.add("update_recently_played", {"user_id": user, "song_id": song, "ts": time.time()},
                                  {"attempts": 1})

            async def settled() -> bool:
                return await plays.getJobState(job.id) in ("completed", "failed")

            await eventually(settled, 30, "the play job to finish")
            return str(await plays.getJobState(job.id))

        async def schema_runs() -> bool:
            w = await states(url)
            return bool(w) and w["schema"]["state"] == "running"

        await eventually(schema_runs, 40, "the workers to apply the schema")
        assert await play_once() == "completed"  # the pool holds a connection now
        proxy.drop_connections()  # PostgreSQL restarted: every pooled connection is dead
        assert await play_once() == "completed"
