"""Benchmark (not a test): what a write costs — POST /api/songs/{id}/play and POST /api/playlists —
and how long its events take to leave the outbox.

    python benchmarks/api_writes.py [--plays 300] [--concurrency 16] [--duration 10] [--src DIR]

Stores come from `spotctl.endpoints.resolve()` (the running stack). An API process is started here
on a free port against them (per-IP and per-user limits raised); `--src DIR` puts another checkout's
`sandbox/` first on its PYTHONPATH, to measure the code before a change the same way. Latency is
closed-loop (one request in flight) into HdrHistograms; throughput with N keep-alive connections;
"job visible after" is the time from a play's answer until its BullMQ job exists in Redis (the
relay's lag; before the outbox the job was added before the answer, so it reads 0). The client
shares the machine with the server: figures are floors for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from hdrh.histogram import HdrHistogram
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]


def histogram() -> HdrHistogram:
    return HdrHistogram(1, 60_000_000, 3)  # microseconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_api(env: dict[str, str], src: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    extra = {"PYTHONPATH": str(src / "sandbox")} if src else {}
    full = {**os.environ, **env, **extra, "PORT": str(port), "API_RATE_LIMIT_IP": "1000000/minute",
            "API_RATE_LIMIT_USER": "1000000/minute"}
    log = open(Path(tempfile.gettempdir()) / f"bench-api-{port}.log", "wb")  # owned by the child process
    proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.api"], env=full, stdout=log,
                            stderr=subprocess.STDOUT, cwd=src or ROOT)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                health = (await client.get(f"{url}/health", timeout=2)).json()
                if health.get("schema_ready"):
                    return proc, url
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the API did not start; see {log.name}")


async def user(http: httpx.AsyncClient) -> dict[str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:10]}@bench.spotctl.dev", "bench-password"
    (await http.post("/api/auth/register", json={"email": email, "name": "bench", "password": password})
     ).raise_for_status()
    login = (await http.post("/api/auth/login", json={"email": email, "password": password})).json()
    return {"Authorization": f"Bearer {login['access_token']}"}


def line(name: str, hist: HdrHistogram, seconds: float | None = None, errors: int = 0) -> str:
    count = hist.get_total_count()
    rate = f"{count / seconds:8.1f}" if seconds else "       -"
    return (f"| {name} | {count} | {hist.get_value_at_percentile(50) / 1000:.1f} | "
            f"{hist.get_value_at_percentile(99) / 1000:.1f} | {rate.strip()} | {errors} |")


async def closed_loop(http: httpx.AsyncClient, auth: dict[str, str], n: int, redis: Redis) -> tuple[str, str, str]:
    plays, playlists, lag = histogram(), histogram(), histogram()
    for i in range(n):
        t0 = time.perf_counter()
        resp = await http.post(f"/api/songs/{1 + i % 50}/play", headers=auth)
        answered = time.perf_counter()
        resp.raise_for_status()
        plays.record_value(max(1, int((answered - t0) * 1e6)))
        key = f"bull:recently-played:{resp.json()['job']['id']}"
        while not await redis.exists(key):
            await asyncio.sleep(0.0005)
        lag.record_value(max(1, int((time.perf_counter() - answered) * 1e6)))
        t0 = time.perf_counter()
        (await http.post("/api/playlists", headers=auth, json={"name": f"bench {i}"})).raise_for_status()
        playlists.record_value(max(1, int((time.perf_counter() - t0) * 1e6)))
    return line("play, 1 in flight", plays), line("playlist, 1 in flight", playlists), \
        line("play's job visible after", lag)


async def concurrent(url: str, auth: dict[str, str], concurrency: int, duration: float) -> str:
    hist, errors = histogram(), 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        async def worker(w: int) -> None:
            nonlocal errors
            i = 0
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                resp = await http.post(f"/api/songs/{1 + (w * 7 + i) % 50}/play", headers=auth)
                if resp.status_code != 200:
                    errors += 1
                else:
                    hist.record_value(max(1, int((time.perf_counter() - t0) * 1e6)))
                i += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return line(f"play, {concurrency} in flight", hist, time.monotonic() - started, errors)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--src", type=Path, help="another checkout whose sandbox/ the API runs")
    args = parser.parse_args()
    from spotctl.endpoints import resolve

    env = {k: v for k, v in resolve().env.items() if v}
    proc, url = await start_api(env, args.src)
    redis = Redis.from_url(env["REDIS_URL"])
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            auth = await user(http)
            rows = await closed_loop(http, auth, args.plays, redis)
        rows = (*rows, await concurrent(url, auth, args.concurrency, args.duration))
    finally:
        proc.terminate()
        await redis.aclose()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}, code: {args.src or ROOT}")
    print("| what | requests | p50 ms | p99 ms | req/s | errors |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
