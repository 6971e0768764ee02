"""Benchmark of the real hub (not a test): the CPU that idle, authenticated connections cost the hub
and the client, per connection per second.

Every idle CPU-second spent holding 100,000 connections (keepalive pings and pongs, presence refreshes,
the tick) is taken from the deliveries (issue 18). This starts its own hub (HUB_WORKERS workers) on
REDIS_URL, measures the hub's CPU for --seconds with no connection (the floor: tick, metrics, broker),
opens N connections from client processes (picows: they answer the hub's pings and do nothing else),
waits for the ramp to settle, then measures hub and client CPU for --seconds again. The heartbeat
interval is the settings' default (WS_HEARTBEAT_INTERVAL, 30 s) unless the environment says otherwise,
so pings and presence refreshes happen as in production; a window of at least two intervals gives each
connection its pings. Idle cost per connection = (CPU held - CPU floor) / connections.

    .venv/bin/python benchmarks/hub_idle.py --connections 20000 --workers 2 --client-processes 4 --seconds 60

With --pause the hub's worker pids are printed and the hold lasts --seconds more for a profiler:
    py-spy record --pid PID --native --rate 100 --duration 20 --format raw -o f.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys
import time
from typing import Any

import psutil
from hub_fanout import NS, hub_env, jwt_secret, metric, mint_tokens, spawn_hub, wait_healthy


async def hold(url: str, toks: list[str], pipe: Any) -> None:
    """Open the connections, then only answer pings (picows' automatic pong) until told to stop."""
    from picows import WSListener, ws_connect

    sem = asyncio.Semaphore(50)
    transports = []

    async def one(token: str) -> None:
        for attempt in range(5):
            try:
                async with sem:
                    transport, _ = await ws_connect(WSListener, f"{url}?token={token}&ns={NS}",
                                                    read_buffer_init_size=1024)
                transports.append(transport)
                return
            except Exception:
                await asyncio.sleep(0.5 * (attempt + 1))

    await asyncio.gather(*(one(t) for t in toks))
    pipe.send(len(transports))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"
    open_now = sum(1 for t in transports if not t.is_disconnected)
    for transport in transports:
        transport.disconnect()
    pipe.send(open_now)


def client_process(url: str, toks: list[str], pipe: Any) -> None:
    import uvloop

    uvloop.run(hold(url, toks, pipe))


def cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def window(hub_procs: list[psutil.Process], client_procs: list[psutil.Process], seconds: float) -> dict[str, float]:
    """CPU-seconds of the hub workers and of the clients over `seconds` of wall time."""
    h0, c0, t0 = cpu_s(hub_procs), cpu_s(client_procs), time.perf_counter()
    time.sleep(seconds)
    h1, c1, t1 = cpu_s(hub_procs), cpu_s(client_procs), time.perf_counter()
    return {"wall_s": t1 - t0, "hub_cpu_s": h1 - h0, "client_cpu_s": c1 - c0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client-processes", type=int, default=4, help="each holds at most ~19k sockets")
    parser.add_argument("--seconds", type=float, default=60.0, help="each measured window")
    parser.add_argument("--settle", type=float, default=10.0, help="wait after the ramp before measuring")
    parser.add_argument("--pause", action="store_true", help="print worker pids; hold --seconds more to profile")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop the hub we started

    env, url, metrics_url = hub_env(HUB_WORKERS=str(args.workers))
    secret = jwt_secret(env)
    hub = spawn_hub(env)
    report: dict[str, Any] = {"connections": args.connections, "workers": args.workers,
                              "client_processes": args.client_processes, "cpus": os.cpu_count(),
                              "heartbeat_s": env.get("WS_HEARTBEAT_INTERVAL", "30 (default)"),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    procs: list[Any] = []
    try:
        wait_healthy(metrics_url)
        time.sleep(1.0)
        workers = psutil.Process(hub.pid).children(recursive=True)
        floor = window(workers, [], args.seconds)
        toks = asyncio.run(mint_tokens(env["REDIS_URL"], secret, 0, args.connections))
        share = -(-len(toks) // args.client_processes)
        pipes = []
        t0 = time.perf_counter()
        for i in range(args.client_processes):
            parent, child = mp.Pipe()
            proc = mp.get_context("spawn").Process(target=client_process, args=(url, toks[i * share:(i + 1) * share],
                                                                                 child))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        connected = sum(p.recv() for p in pipes)
        report["connect_s"] = round(time.perf_counter() - t0, 1)
        report["connected"] = connected
        time.sleep(args.settle)
        report["per_worker_connections"] = metric(metrics_url, "hub_connections")
        clients = [psutil.Process(p.pid) for p in procs]
        load0 = os.getloadavg()
        held = window(workers, clients, args.seconds)
        report["load_avg"] = [round(x, 2) for x in (*load0, *os.getloadavg())]  # before / after the window
        n = max(1, connected)
        report["floor_hub_cpu_pct"] = round(floor["hub_cpu_s"] / floor["wall_s"] * 100, 1)
        report["held_hub_cpu_pct"] = round(held["hub_cpu_s"] / held["wall_s"] * 100, 1)
        idle_hub = held["hub_cpu_s"] / held["wall_s"] - floor["hub_cpu_s"] / floor["wall_s"]
        report["hub_us_per_conn_s"] = round(idle_hub / n * 1e6, 2)
        report["client_cpu_pct"] = round(held["client_cpu_s"] / held["wall_s"] * 100, 1)
        report["client_us_per_conn_s"] = round(held["client_cpu_s"] / held["wall_s"] / n * 1e6, 2)
        report["hub_cpu_pct_at_100k"] = round(idle_hub / n * 100_000 * 100, 1)  # projected: above the floor
        if args.pause:
            print("profile now: hub worker pids", [p.pid for p in workers], file=sys.stderr, flush=True)
            time.sleep(args.seconds)
        for p in pipes:
            p.send("stop")
        report["still_open"] = sum(p.recv() for p in pipes)
        report["keepalive_timeouts"] = sum(metric(metrics_url, "hub_keepalive_timeouts_total").values())
        for proc in procs:
            proc.join(30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        hub.terminate()
        hub.wait(30)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
