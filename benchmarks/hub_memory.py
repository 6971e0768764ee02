"""Benchmark of the hub's memory (not a test): base RSS per worker, KB per idle connection (the slope),
and what one connection costs by allocation site and object type.

It starts its own hub (HUB_WORKERS workers, like hub_fanout.py, whose clients it reuses: picows, each
authenticated and joined to one room), then adds connections in steps (--steps, cumulative) from client
processes of at most --per-process connections each (a process may hold 20,000 open files here):
  1. base: each worker's RSS / USS / PSS before any connection (USS is what a forked worker does not
     share with its parent and siblings: what one more worker really costs);
  2. slope: hub RSS at every step; KB per connection = least-squares slope of RSS over connections,
     and (RSS - base) / connections at the last step (hold-100k divides the whole RSS, base included);
  3. --trace N: a second run, one worker, tracemalloc started in it just before N connections arrive,
     snapshot after them: the top allocation sites and GC-tracked object types, per connection.

    .venv/bin/spotctl up redis postgres
    .venv/bin/python benchmarks/hub_memory.py --workers 2 --steps 2000,10000,20000 --trace 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from hub_fanout import client_process, hub_env, jwt_secret, metric, mint_tokens, spawn_hub, wait_healthy, worker_procs

DUMP = "HUB_MEMORY_DUMP"  # where the traced worker writes what it measured on SIGUSR1


def traced_hub() -> None:
    """The hub's supervisor with a SIGUSR1 handler its forked workers inherit: the first signal starts
    tracemalloc and counts objects by type, the second writes the growth since then to $HUB_MEMORY_DUMP."""
    import collections
    import gc
    import tracemalloc

    state: dict[str, Any] = {}

    def types() -> collections.Counter[str]:
        return collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())

    def on_signal(*_: Any) -> None:
        if not state:
            gc.collect()
            state["types"] = types()
            tracemalloc.start(1)
            return
        before_gc = tracemalloc.get_traced_memory()[0]
        gc.collect()  # what is still there: not garbage waiting for the (rare) collection
        after = types()  # before the snapshot, whose own tuples would count
        snap = tracemalloc.take_snapshot()
        grown = {k: after[k] - state["types"].get(k, 0) for k in after}
        stats = snap.statistics("lineno")
        Path(os.environ[DUMP]).write_text(json.dumps({
            "traced_bytes_before_gc": before_gc, "traced_bytes": sum(s.size for s in stats),
            "sites": [[str(s.traceback[0]), s.size, s.count] for s in stats[:60]],
            "files": [[str(s.traceback[0].filename), s.size, s.count] for s in snap.statistics("filename")[:25]],
            "types": sorted(((k, v) for k, v in grown.items() if v > 0), key=lambda kv: -kv[1])[:30]}))
        tracemalloc.stop()

    signal.signal(signal.SIGUSR1, on_signal)
    from spotctl_sandbox.hub.supervisor import main

    main()


def start_hub(workers: int, env: dict[str, str], traced: bool) -> subprocess.Popen[bytes]:
    traced_cmd = [sys.executable, __file__, "--traced-hub"] if traced else None
    hub = spawn_hub({**env, "HUB_WORKERS": str(workers)}, traced_cmd)
    wait_healthy(env["METRICS_URL"], tries=150)
    while len(worker_procs(hub)) < workers:
        time.sleep(0.2)
    time.sleep(1.5)  # workers connect to Redis and PostgreSQL
    return hub


def memory(hub: subprocess.Popen[bytes]) -> list[dict[str, float]]:
    out = []
    for p in worker_procs(hub):
        m = p.memory_full_info()
        out.append({"pid": p.pid, "rss_mb": round(m.rss / 2**20, 1), "uss_mb": round(m.uss / 2**20, 1),
                    "pss_mb": round(m.pss / 2**20, 1)})
    return out


class Clients:
    """Client processes holding idle, joined connections; each step adds processes for the extra ones."""

    def __init__(self, url: str, tokens: list[str], per_process: int) -> None:
        self.url, self.tokens, self.per_process = url, tokens, per_process
        self.used = 0
        self.pipes: list[Any] = []
        self.procs: list[Any] = []

    def grow_to(self, total: int) -> int:
        new = []
        while self.used < total:
            toks = self.tokens[self.used:min(total, self.used + self.per_process)]
            self.used += len(toks)
            parent, child = mp.Pipe()
            proc = mp.get_context("spawn").Process(target=client_process, args=(self.url, toks, 0, child))
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
            new.append(parent)
        return sum(p.recv()["joined"] for p in new)

    def stop(self) -> None:
        for p in self.pipes:
            p.send("stop")
        for proc in self.procs:
            proc.join(30)


def settle(metrics_url: str, expected: int) -> dict[str, float]:
    """Wait until the workers count the connections (registration is asynchronous), then a little more."""
    deadline = time.monotonic() + 30
    while True:
        per_worker = metric(metrics_url, "hub_connections")
        if sum(per_worker.values()) >= expected or time.monotonic() > deadline:
            time.sleep(2)
            return per_worker
        time.sleep(0.5)


def slope(points: list[tuple[int, float]]) -> float:
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def rss_run(args: argparse.Namespace, env: dict[str, str], tokens: list[str]) -> dict[str, Any]:
    hub = start_hub(args.workers, env, traced=False)
    clients = Clients(env["WS_URL"], tokens, args.per_process)
    out: dict[str, Any] = {"workers": args.workers}
    try:
        base = memory(hub)
        out["base_per_worker"] = base
        out["supervisor_rss_mb"] = round(psutil.Process(hub.pid).memory_info().rss / 2**20, 1)
        points = [(0, sum(w["rss_mb"] for w in base) * 1024)]
        steps = []
        for total in args.steps:
            joined = clients.grow_to(total)
            per_worker = settle(env["METRICS_URL"], total)
            now = memory(hub)
            rss_kb = sum(w["rss_mb"] for w in now) * 1024
            connected = int(sum(per_worker.values()))
            points.append((connected, rss_kb))
            steps.append({"connections": connected, "joined_in_step": joined, "per_worker": per_worker,
                          "hub_rss_mb": round(rss_kb / 1024, 1), "uss_mb": round(sum(w["uss_mb"] for w in now), 1),
                          "kb_per_conn_incl_base": round(rss_kb / max(1, connected), 1),
                          "load_avg": os.getloadavg()})
        out["steps"] = steps
        out["kb_per_connection_slope"] = round(slope(points[1:] if len(points) > 2 else points), 2)
        out["kb_per_connection_from_base"] = round((points[-1][1] - points[0][1]) / max(1, points[-1][0]), 2)
    finally:
        clients.stop()
        hub.terminate()
        hub.wait(30)
    return out


def trace_run(n: int, env: dict[str, str], tokens: list[str], per_process: int) -> dict[str, Any]:
    dump = Path(tempfile.mkdtemp()) / "dump.json"
    hub = start_hub(1, {**env, DUMP: str(dump)}, traced=True)
    clients = Clients(env["WS_URL"], tokens, per_process)
    try:
        worker = worker_procs(hub)[0]
        worker.send_signal(signal.SIGUSR1)
        time.sleep(1)
        clients.grow_to(n)
        connected = int(sum(settle(env["METRICS_URL"], n).values()))
        worker.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if dump.exists() and dump.stat().st_size:
                break
            time.sleep(0.2)
        got = json.loads(dump.read_text())
    finally:
        clients.stop()
        hub.terminate()
        hub.wait(30)
    per = max(1, connected)
    return {"connections": connected,
            "traced_bytes_per_conn": round(got["traced_bytes"] / per),
            "traced_bytes_per_conn_before_gc": round(got["traced_bytes_before_gc"] / per),
            "top_sites_bytes_per_conn": [[site, round(size / per), round(count / per, 2)]
                                         for site, size, count in got["sites"] if size / per >= 8],
            "top_files_bytes_per_conn": [[name, round(size / per), round(count / per, 2)]
                                         for name, size, count in got["files"] if size / per >= 8],
            "gc_objects_per_conn": [[name, round(count / per, 2)] for name, count in got["types"]
                                    if count / per >= 0.5]}


def main() -> None:
    if sys.argv[1:] == ["--traced-hub"]:
        traced_hub()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", default="2000,10000,20000", help="cumulative connection counts")
    parser.add_argument("--per-process", type=int, default=9000, help="connections per client process")
    parser.add_argument("--trace", type=int, default=2000, help="connections of the tracemalloc run (0: none)")
    parser.add_argument("--no-rss", action="store_true", help="only the tracemalloc run")
    args = parser.parse_args()
    args.steps = [int(s) for s in args.steps.split(",") if s]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally: stop the hub we started

    env, url, metrics_url = hub_env(HUB_CONN_RATE="100000", HUB_CONN_BURST="100000",
                                    HUB_USER_RATE="100000/second")
    env.update(WS_URL=url, METRICS_URL=metrics_url)
    secret = jwt_secret(env)
    need = max([*args.steps, args.trace])
    tokens = asyncio.run(mint_tokens(env["REDIS_URL"], secret, 0, need))
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                              "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    if not args.no_rss:
        report["rss"] = rss_run(args, env, tokens)
    if args.trace:
        report["trace"] = trace_run(args.trace, env, tokens, args.per_process)
    report["load_avg_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
