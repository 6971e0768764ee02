"""Benchmark (not a test): how fast the workers drain their flows on this machine.

    python benchmarks/workers_flows.py [--plays 2000] [--rpc 200] [--followers 200]

Stores come from the environment (REDIS_URL, DATABASE_URL, AMQP_URL, KAFKA_BOOTSTRAP_SERVERS), as
for the services.  A private workers process is started here on free ports; other workers attached
to the same stores compete for the same queues, so run it on a quiet stack.  It measures:
- `update_recently_played` jobs: N added at once (addBulk), time until the last one completes;
- recommendation request/reply over RabbitMQ, one in flight: latency percentiles (HdrHistogram);
- a release to an artist with F followers: time until F pushes and F e-mails reached the sinks.
Rows it creates are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import httpx
import psycopg
from bullmq import Queue
from hdrh.histogram import HdrHistogram

from spotctl_sandbox.events import declare_exchanges


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/health")).json()["status"] == "ok":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit(f"workers at {url} did not become healthy in {timeout:g} s")


async def bench_plays(redis_url: str, user: int, songs: list[int],
                      n: int) -> dict[str, float]:
    queue = Queue("recently-played", {"connection": redis_url})
    now = time.time()
    started = time.perf_counter()
    jobs = await queue.addBulk([{"name": "update_recently_played",
                                 "data": {"user_id": user, "song_id": songs[i % len(songs)], "ts": now + i}}
                                for i in range(n)])
    cursor = 0  # jobs finish roughly in order: walk the list once, waiting on the first unfinished
    while cursor < n:
        if await queue.getJobState(jobs[cursor].id) in ("completed", "failed"):
            cursor += 1
        else:
            await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await queue.close()
    return {"jobs": n, "seconds": round(elapsed, 2), "jobs_per_s": round(n / elapsed)}


async def bench_rpc(amqp_url: str, users: list[int], n: int) -> dict[str, float]:
    connection = await aio_pika.connect(amqp_url)
    hist = HdrHistogram(1, 60_000_000, 3)  # microseconds
    async with connection:
        channel = await connection.channel()
        exchanges = await declare_exchanges(channel)
        replies = await channel.declare_queue("", exclusive=True)
        futures: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            future = futures.pop(message.correlation_id or "", None)
            if future is not None:
                future.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        for i in range(n):
            cid = uuid.uuid4().hex
            futures[cid] = asyncio.get_running_loop().create_future()
            t0 = time.perf_counter()
            await exchanges["recommendations"].publish(
                aio_pika.Message(b"{}", reply_to=replies.name, correlation_id=cid),
                routing_key=f"user.{users[i % len(users)]}")
            await asyncio.wait_for(futures[cid], 10)
            hist.record_value(int((time.perf_counter() - t0) * 1e6))
    return {"requests": n, **{f"p{p}_ms": round(hist.get_value_at_percentile(p) / 1000, 2) for p in (50, 90, 99)},
            "max_ms": round(hist.get_max_value() / 1000, 2)}


async def bench_release(amqp_url: str, workers_url: str, song: int, artist: int, followers: int) -> dict[str, float]:
    connection = await aio_pika.connect(amqp_url)
    title = f"bench-{uuid.uuid4().hex[:8]}"
    async with connection, httpx.AsyncClient(base_url=workers_url, timeout=10) as client:
        channel = await connection.channel(publisher_confirms=True)
        exchanges = await declare_exchanges(channel)
        started = time.perf_counter()
        await exchanges["notifications"].publish(aio_pika.Message(json.dumps(
            {"type": "release", "song_id": song, "artist_id": artist, "title": title}).encode()), routing_key="")
        push_done = mail_done = 0.0
        while not (push_done and mail_done):
            if not push_done:
                pushes = (await client.get("/sinks/push", params={"limit": 1000})).json()["messages"]
                if sum(p["payload"].get("body") == title for p in pushes) >= followers:
                    push_done = time.perf_counter() - started
            if not mail_done:
                mails = (await client.get("/sinks/email", params={"limit": 1000})).json()["messages"]
                if sum(title in m["subject"] for m in mails) >= followers:
                    mail_done = time.perf_counter() - started
            await asyncio.sleep(0.1)
    return {"followers": followers, "pushes_s": round(push_done, 2), "emails_s": round(mail_done, 2)}


async def main(args: argparse.Namespace) -> None:
    env = dict(os.environ)
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="workers-bench-"))
    smtp, push = free_port(), free_port()
    penv = {**env, "PORT": str(port), "SMTP_PORT": str(smtp), "PUSH_PORT": str(push),
            "SMTP_URL": f"smtp://127.0.0.1:{smtp}", "PUSH_WEBHOOK_URL": f"http://127.0.0.1:{push}/push",
            "REPORTS_DIR": str(tmp / "reports")}
    proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.workers"], env=penv,
                            stdout=(tmp / "workers.log").open("wb"), stderr=subprocess.STDOUT)
    conn = await psycopg.AsyncConnection.connect(env["DATABASE_URL"], autocommit=True)
    users: list[int] = []
    artist = 0
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        row = await (await conn.execute("INSERT INTO artists (name) VALUES ('bench') RETURNING id")).fetchone()
        assert row is not None  # RETURNING always yields the row
        artist = row[0]
        songs = [r[0] for r in await (await conn.execute(
            "INSERT INTO songs (title, artist_id, artist, duration_s, audio_path) "
            "SELECT 'bench ' || g, %s, 'bench', 100, 'x.wav' FROM generate_series(1, 50) g RETURNING id",
            (artist,))).fetchall()]
        users = [r[0] for r in await (await conn.execute(
            "INSERT INTO users (email, name, password_hash) SELECT 'bench-' || g || '-' || %s || '@test.local', "
            "'bench', 'x' FROM generate_series(1, %s) g RETURNING id",
            (uuid.uuid4().hex[:6], max(args.followers, 20)))).fetchall()]
        await conn.execute("INSERT INTO listening_history (user_id, song_id, played_at) "
                           "SELECT u, s, now() - (random() * interval '30 days') FROM unnest(%s::bigint[]) u, "
                           "unnest(%s::bigint[]) s WHERE random() < 0.2", (users, songs))
        await conn.execute("INSERT INTO follows (user_id, artist_id) SELECT u, %s FROM unnest(%s::bigint[]) u",
                           (artist, users[: args.followers]))
        results = {
            "plays": await bench_plays(env["REDIS_URL"], users[0], songs, args.plays),
            "recommendations": await bench_rpc(env["AMQP_URL"], users, args.rpc),
            "release": await bench_release(env["AMQP_URL"], f"http://127.0.0.1:{port}", songs[0], artist,
                                           args.followers),
        }
        print(json.dumps(results, indent=2))
    finally:
        proc.terminate()
        proc.wait(30)
        if users:
            await conn.execute("DELETE FROM users WHERE id = ANY(%s)", (users,))
        if artist:
            await conn.execute("DELETE FROM artists WHERE id = %s", (artist,))
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=2000)
    parser.add_argument("--rpc", type=int, default=200)
    parser.add_argument("--followers", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
