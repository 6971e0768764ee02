"""Benchmark (not a test): GET /api/songs/{id} latency for cache hits vs misses, and requests/s.

    python benchmarks/api_songs.py [--api-url URL] [--songs 2000] [--concurrency 16] [--duration 10]
                                   [--write-docs]

Stores come from `spotctl.endpoints.resolve()` (the local runtime unless env vars say otherwise).
Without --api-url an API process is started here on a free port against those stores, with the
per-IP rate limit raised (a benchmark from one address would otherwise measure 429s). Latency is
measured closed-loop, one request in flight, into HdrHistograms; throughput with N keep-alive
connections. The client runs on the same machine and competes with the server for CPU: the
numbers are a floor for the server, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psutil
import psycopg
from hdrh.histogram import HdrHistogram
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    wrong: int  # responses whose `cached` flag was not what the phase expects
    errors: int  # transport errors and non-200 answers
    server_cpu_ms: float | None = None  # API process CPU time over the phase (user + system)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def histogram() -> HdrHistogram:
    return HdrHistogram(1, 60_000_000, 3)  # microseconds


def result(name: str, hist: HdrHistogram, seconds: float, tally: Tally) -> Result:
    return Result(name, hist.get_total_count(), seconds, hist.get_value_at_percentile(50) / 1000,
                  hist.get_value_at_percentile(99) / 1000, tally.wrong, tally.errors)


@dataclass
class Tally:
    wrong: int = 0
    errors: int = 0


async def timed_get(http: httpx.AsyncClient, song_id: int, expect_cached: bool, hist: HdrHistogram,
                    tally: Tally) -> None:
    t0 = time.perf_counter()
    try:
        resp = await http.get(f"/api/songs/{song_id}")
    except httpx.TransportError:
        tally.errors += 1
        return
    hist.record_value(max(1, int((time.perf_counter() - t0) * 1e6)))
    if resp.status_code != 200:
        tally.errors += 1
    elif resp.json()["cached"] is not expect_cached:
        tally.wrong += 1


async def sequential(http: httpx.AsyncClient, name: str, ids: list[int], expect_cached: bool) -> Result:
    hist, tally = histogram(), Tally()
    started = time.perf_counter()
    for song_id in ids:
        await timed_get(http, song_id, expect_cached, hist, tally)
    return result(name, hist, time.perf_counter() - started, tally)


async def concurrent(http: httpx.AsyncClient, name: str, ids: list[int], expect_cached: bool,
                     concurrency: int, duration: float, once: bool) -> Result:
    """`once`: each id is fetched a single time (misses); else ids cycle until `duration` ends."""
    hist, tally, cursor = histogram(), Tally(), 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal cursor
        while time.perf_counter() < deadline and not (once and cursor >= len(ids)):
            song_id = ids[cursor % len(ids)]
            cursor += 1
            await timed_get(http, song_id, expect_cached, hist, tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result(name, hist, time.perf_counter() - started, tally)


def start_api(env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = Path(tempfile.gettempdir()) / f"spotctl-bench-api-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "spotctl_sandbox.api"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, **env, "PORT": str(port),
                                     "API_RATE_LIMIT_IP": "100000000/minute", "LOG_LEVEL": "WARNING"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the API did not come up; see {log}")


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def measured(pid: int | None, phase: Awaitable[Result]) -> Result:
    """Run a phase and attach the API process's CPU time: a figure CPU contention does not inflate."""
    before = cpu_seconds(pid)
    res = await phase
    after = cpu_seconds(pid)
    if before is None or after is None:
        return res
    return replace(res, server_cpu_ms=(after - before) * 1000)


async def run(args: argparse.Namespace, env: dict[str, str], api_url: str, pid: int | None) -> list[Result]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM songs WHERE id <= %s", (args.songs,)).fetchone()
    if not row or row[0] < args.songs:
        raise SystemExit(f"need songs 1..{args.songs} in PostgreSQL: run `spotctl seed` first")
    ids = list(range(1, args.songs + 1))
    redis = Redis.from_url(env["REDIS_URL"])
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=30) as http:
        await redis.delete(*(f"song:{i}" for i in ids))
        results = [await measured(pid, sequential(http, "miss, 1 in flight", ids, expect_cached=False)),
                   await measured(pid, sequential(http, "hit, 1 in flight", ids, expect_cached=True))]
        results.append(await measured(pid, concurrent(http, f"hit, {args.concurrency} in flight", ids, True,
                                                      args.concurrency, args.duration, once=False)))
        await redis.delete(*(f"song:{i}" for i in ids))
        results.append(await measured(pid, concurrent(http, f"miss, {args.concurrency} in flight", ids, False,
                                                      args.concurrency, args.duration, once=True)))
    await redis.aclose()
    return results


def table(results: list[Result]) -> str:
    lines = ["| phase | requests | p50 ms | p99 ms | req/s | API CPU per request | wrong cache flag | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        cpu = "n/a" if r.server_cpu_ms is None else f"{r.server_cpu_ms / max(1, r.requests) * 1000:,.0f} µs"
        lines.append(f"| {r.name} | {r.requests:,} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.rps:,.0f} | {cpu} "
                     f"| {r.wrong} | {r.errors} |")
    return "\n".join(lines)


def environment(env: dict[str, str], api_url: str, spawned: bool) -> str:
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.platform()}; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
            "(its own client and API included); "
            f"Python {platform.python_version()}; API {api_url} "
            f"({'started by the benchmark, 1 uvicorn process, uvloop + httptools' if spawned else 'given'}); "
            f"Redis {env['REDIS_URL']}, PostgreSQL {env['DATABASE_URL'].rsplit('@', 1)[-1]}")


def write_docs(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## API\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", help="an API already running (mind its rate limit)")
    parser.add_argument("--songs", type=int, default=2000, help="distinct song ids per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds for the throughput phases")
    parser.add_argument("--write-docs", action="store_true", help="replace `## API` in docs/BENCHMARKS.md")
    args = parser.parse_args()

    from spotctl.endpoints import resolve

    env = dict(resolve().env)
    try:
        with psycopg.connect(env["DATABASE_URL"], connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL does not answer at {env['DATABASE_URL']}: start the stack "
                         f"(`spotctl up`) or point DATABASE_URL elsewhere ({str(exc).splitlines()[0]})") from None
    load_before = os.getloadavg()[0]  # the run's own processes raise the load; judge the box before it
    proc = None
    api_url = args.api_url
    if api_url is None:
        api_url, proc = start_api(env)
    try:
        results = asyncio.run(run(args, env, api_url, proc.pid if proc else None))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    report = table(results)
    print(report)
    if args.write_docs:
        busy = (f"**Something else was running when this run started (load average {load_before:.1f}): "
                "figures are inflated by CPU contention; the API CPU per request column is the "
                "least affected.** " if load_before > 1.0 else "")
        write_docs(f"## API\n\n`GET /api/songs/{{id}}` (cache-aside: Redis `song:<id>`, else PostgreSQL), "
                   f"measured by `python benchmarks/api_songs.py --songs {args.songs} --concurrency "
                   f"{args.concurrency} --duration {args.duration:g} --write-docs`.\n\n"
                   f"Environment: {environment(env, api_url, proc is not None)}.\n\n{report}\n\n"
                   f"{busy}Client and server share the machine's cores, so req/s is a floor for the server. "
                   "\"1 in flight\" rows are unloaded latency; the concurrent rows include queueing. "
                   "A miss is one Redis Lua call (GET + miss counter), one PostgreSQL primary-key "
                   "query and one Redis SET; a hit is the Lua call alone.\n\n")


if __name__ == "__main__":
    main()
