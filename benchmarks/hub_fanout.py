"""Benchmark of the real hub (not a test): idle connections per worker and memory per connection,
fan-out deliveries/s, and p50/p99 delivery latency, at a given number of connections.

It starts its own hub (`python -m spotctl_sandbox.hub`, HUB_WORKERS workers) against REDIS_URL /
DATABASE_URL, mints tokens for N users, opens N connections from client processes (picows, the
cheapest client, so the generator's CPU is not what we measure) that all join one room, then:
  1. idle: hub worker RSS before/after -> KB per connection; connections per worker from /metrics;
  2. latency: a publisher sends room messages open-loop at --rate/s stamped with the *scheduled*
     time; probe connections (--probes per client process) record now - scheduled (HdrHistogram);
  3. throughput: a burst of --burst messages; deliveries/s until every connection got them all.

    .venv/bin/spotctl up redis postgres     # its URLs are read like every spotctl command's (env wins)
    .venv/bin/python benchmarks/hub_fanout.py --connections 1000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import psutil

NS = "bench"
ROOM = "fanout"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_env(**extra: str) -> tuple[dict[str, str], str, str]:
    """The environment of a hub of our own on free ports, against the running stack's stores (the
    environment wins over the stack), with its WebSocket and metrics URLs."""
    from spotctl.endpoints import resolve

    port, metrics_port = free_port(), free_port()
    stack = {k: v for k, v in resolve().env.items() if v}
    env = {**stack, **os.environ, "PORT": str(port), "METRICS_PORT": str(metrics_port),
           "MAX_WS_CONNECTIONS_PER_USER": "5", **extra}
    return env, f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{metrics_port}"


def spawn_hub(env: dict[str, str], cmd: list[str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m spotctl_sandbox.hub` (or `cmd`) in `env`; its output to BENCH_HUB_LOG, else nowhere."""
    log = open(os.environ.get("BENCH_HUB_LOG", os.devnull), "ab")
    return subprocess.Popen(cmd or [sys.executable, "-m", "spotctl_sandbox.hub"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def jwt_secret(env: dict[str, str]) -> str:
    return env.get("JWT_SECRET", "dev-only-jwt-secret-change-me-in-production")


async def mint_tokens(redis_url: str, secret: str, start: int, count: int) -> list[str]:
    import redis.asyncio as aioredis

    from spotctl_sandbox.common import tokens

    redis = aioredis.from_url(redis_url)
    out = []
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(start, start + count):
            token, claims = tokens.encode(secret, f"bench-{i}", f"bench {i}", ttl_s=3600)
            pipe.set(tokens.session_key(claims.jti), claims.user_id, ex=3600)
            out.append(token)
        await pipe.execute()
    await redis.aclose()
    return out


def listener_class(state: dict[str, Any], hist: Any) -> Any:
    """A picows listener that counts room messages, records probe latency and joins after welcome."""
    from picows import WSListener, WSMsgType

    class Listener(WSListener):
        def __init__(self, probe: bool) -> None:
            self.probe = probe

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            payload = frame.get_payload_as_bytes()
            if b'"type":"room_message"' in payload:
                state["frames"] += 1
                state["last_at"] = time.time()
                if self.probe:
                    sent = json.loads(payload)["content"]["data"]["t"]
                    hist.record_value(max(1, int((time.time() - sent) * 1e6)))
            elif b'"type":"welcome"' in payload:
                transport.send(WSMsgType.TEXT, json.dumps({"type": "join", "content": {"room": ROOM}}).encode())
            elif b'"type":"join_result"' in payload:
                state["joined"] += 1

    return Listener


async def clients(url: str, toks: list[str], probes: int, pipe: Any) -> None:
    from hdrh.histogram import HdrHistogram
    from picows import ws_connect

    hist = HdrHistogram(1, 60_000_000, 3)  # microseconds
    state: dict[str, Any] = {"frames": 0, "joined": 0, "last_at": 0.0}

    Listener = listener_class(state, hist)
    sem = asyncio.Semaphore(50)
    transports = []

    async def one(i: int, token: str) -> None:
        for attempt in range(5):
            try:
                async with sem:
                    transport, _ = await ws_connect(lambda: Listener(i < probes), f"{url}?token={token}&ns={NS}",
                                                    read_buffer_init_size=4096)
                transports.append(transport)
                return
            except Exception:
                await asyncio.sleep(0.5 * (attempt + 1))

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            print(f"[pid {os.getpid()}] connected {len(transports)}/{len(toks)} joined {state['joined']}",
                  file=sys.stderr, flush=True)

    reporter = asyncio.get_running_loop().create_task(progress())
    await asyncio.gather(*(one(i, t) for i, t in enumerate(toks)))
    last, still = -1, 0.0
    while state["joined"] < len(transports) and still < 10:  # give up on joins that never answer
        await asyncio.sleep(0.1)
        still = still + 0.1 if state["joined"] == last else 0.0
        last = state["joined"]
    reporter.cancel()
    pipe.send({"connected": len(transports), "joined": state["joined"]})
    while True:
        command = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        if command == "report":  # counts since the previous report
            pipe.send({"frames": state["frames"], "hist": hist.encode().decode(), "last_at": state["last_at"]})
            state["frames"] = 0
            hist.reset()
        elif command == "stop":
            for transport in transports:
                transport.disconnect()
            return


def client_process(url: str, toks: list[str], probes: int, pipe: Any) -> None:
    import uvloop

    uvloop.run(clients(url, toks, probes, pipe))


async def publish(url: str, token: str, rate: float, count: int) -> int:
    """Open loop: message k is stamped with its scheduled time start + k/rate (no coordinated omission);
    rate 0 sends `count` messages back to back."""
    from websockets.asyncio.client import connect

    async with connect(f"{url}?token={token}&ns={NS}", compression=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "join", "content": {"room": ROOM}}))
        drain = asyncio.get_running_loop().create_task(_drain(ws))  # it is in the room too: keep reading
        await asyncio.sleep(0.2)
        start_wall, start = time.time(), time.perf_counter()
        for k in range(count):
            due = k / rate if rate else 0.0
            await asyncio.sleep(max(0.0, start + due - time.perf_counter()))
            data = {"t": start_wall + due if rate else time.time()}
            await ws.send(json.dumps({"type": "room_message", "content": {"room": ROOM, "data": data}}))
        await asyncio.sleep(0.5)
        drain.cancel()
    return count


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


def wait_healthy(metrics_url: str, tries: int = 100) -> None:
    """Until the hub's metrics endpoint answers /health (its workers are listening), ~20 s at most."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(metrics_url + "/health", timeout=1)
            return
        except OSError:
            time.sleep(0.2)


def worker_procs(hub: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(hub.pid).children(recursive=True)


def metric(metrics_url: str, name: str) -> dict[str, float]:
    text = urllib.request.urlopen(metrics_url + "/metrics", timeout=5).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(rf'^{name}{{worker="(\d+)"}} (\S+)$', text, re.M)}


def counters(metrics_url: str) -> dict[str, float]:
    """Hub-side totals: frames written per type and frames shed for slow consumers."""
    text = urllib.request.urlopen(metrics_url + "/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    names = "hub_messages_out_total|hub_frames_shed_total|hub_protocol_errors_total"
    for m in re.finditer(rf'^({names}){{(\w+)="([^"]+)",worker="\d+"}} (\S+)$', text, re.M):
        key = f"{m.group(1)}[{m.group(3)}]"
        out[key] = out.get(key, 0) + float(m.group(4))
    return out


def hub_latency(metrics_url: str) -> dict[str, str]:
    """p50/p99 upper bucket bounds of the hub's own publish -> written-to-sockets histogram."""
    text = urllib.request.urlopen(metrics_url + "/metrics", timeout=5).read().decode()
    buckets: dict[float, float] = {}
    for m in re.finditer(r'^hub_delivery_latency_seconds_bucket{le="([^"]+)",worker="\d+"} (\S+)$', text, re.M):
        buckets[float(m.group(1))] = buckets.get(float(m.group(1)), 0) + float(m.group(2))
    total = buckets.get(float("inf"), 0)
    out = {}
    for q in (0.5, 0.99):
        bound = next((le for le, n in sorted(buckets.items()) if total and n >= q * total), float("inf"))
        out[f"p{int(q * 100)}"] = f"<= {bound * 1000:g} ms"
    return out


def main() -> None:
    from hdrh.histogram import HdrHistogram

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--probes", type=int, default=50, help="latency-recording connections per process")
    parser.add_argument("--rate", type=float, default=10.0, help="room messages/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop the hub we started
    env, url, metrics_url = hub_env(HUB_WORKERS=str(args.workers), HUB_CONN_RATE="100000",
                                    HUB_CONN_BURST="100000", HUB_USER_RATE="100000/second")
    secret = jwt_secret(env)
    hub = spawn_hub(env)
    report: dict[str, Any] = {"connections": args.connections, "workers": args.workers,
                              "client_processes": args.client_processes, "cpus": os.cpu_count(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        wait_healthy(metrics_url)
        time.sleep(0.5)
        rss0 = sum(p.memory_info().rss for p in worker_procs(hub))
        toks = asyncio.run(mint_tokens(env["REDIS_URL"], secret, 0, args.connections + 1))
        publisher_token, toks = toks[-1], toks[:-1]
        share = -(-len(toks) // args.client_processes)
        pipes, procs = [], []
        t0 = time.perf_counter()
        for i in range(args.client_processes):
            parent, child = mp.Pipe()
            proc = mp.get_context("spawn").Process(target=client_process,
                                                   args=(url, toks[i * share:(i + 1) * share], args.probes, child))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        ready = [p.recv() for p in pipes]
        connected = sum(r["connected"] for r in ready)
        report["joined"] = sum(r["joined"] for r in ready)
        report["connect_s"] = round(time.perf_counter() - t0, 1)
        report["connected"] = connected
        time.sleep(2)
        rss1 = sum(p.memory_info().rss for p in worker_procs(hub))
        report["per_worker_connections"] = metric(metrics_url, "hub_connections")
        report["hub_rss_mb"] = round(rss1 / 2**20, 1)
        report["kb_per_connection"] = round((rss1 - rss0) / max(1, connected) / 1024, 1)

        sent = asyncio.run(publish(url, publisher_token, args.rate, int(args.rate * args.seconds)))
        hist = HdrHistogram(1, 60_000_000, 3)
        frames = 0
        for p in pipes:
            p.send("report")
            got = p.recv()
            frames += got["frames"]
            hist.decode_and_add(got["hist"])
        report["hub_side_latency"] = hub_latency(metrics_url)
        report["latency"] = {"rate_msgs_per_s": args.rate, "fanout": report["joined"],
                             "offered_deliveries_per_s": args.rate * report["joined"], "sent": sent,
                             "delivered": frames, "expected": sent * report["joined"],
                             **{f"p{q}_ms": round(hist.get_value_at_percentile(q) / 1000, 1)
                                for q in (50, 90, 99, 99.9)},
                             "max_ms": round(hist.get_max_value() / 1000, 1)}
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in worker_procs(hub))
        burst_start = time.time()
        asyncio.run(publish(url, publisher_token, 0, args.burst))
        delivered, last_at = 0, 0.0
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and delivered < args.burst * report["joined"]:
            time.sleep(0.2)
            for p in pipes:
                p.send("report")
                got = p.recv()
                delivered, last_at = delivered + got["frames"], max(last_at, got["last_at"])
        elapsed = last_at - burst_start  # first send to last frame received anywhere
        cpu1 = sum(sum(p.cpu_times()[:2]) for p in worker_procs(hub))
        report["burst"] = {"messages": args.burst, "delivered": delivered, "seconds": round(elapsed, 2),
                           "deliveries_per_s": round(delivered / max(elapsed, 1e-3)),
                           "hub_cpu_us_per_delivery": round((cpu1 - cpu0) / max(1, delivered) * 1e6, 1)}
        report["load_avg_1m"] = os.getloadavg()[0]
        report["hub_counters"] = counters(metrics_url)
        for p in pipes:
            p.send("stop")
        for proc in procs:
            proc.join(30)
    finally:
        hub.terminate()
        hub.wait(30)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
