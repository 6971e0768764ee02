"""Benchmark (not a test): what one Redis process (one shard) does for the hub's fan-out.

    python benchmarks/redis_fanout.py [--subscribers 1,4,16] [--requests 200000] [--payload 300]

The hub publishes every room message once; Redis writes it to each hub worker process subscribed
to the room's channel. So a shard's work is publishes/s (parsing, lookup) plus deliveries/s (one
write per subscribed connection). For PUBLISH (classic pub/sub, what the hub uses today) and
SPUBLISH (sharded pub/sub, Redis 7: in a cluster only the slot's shard sees the message) it starts
its own redis-server on a free port, S `redis-cli` subscribers (C clients, cheap, like hub workers
reading in bursts), and `redis-benchmark` as the publisher (pipelined; DURABLE is the hub's own
XADD + EXPIRE + PUBLISH script, what a durable room message costs), then prints publishes/s,
deliveries/s and Redis's own CPU (from INFO) per 100k deliveries. Everything shares this machine's
cores: the figures are a floor for a shard on a host of its own.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

# the hub's durable publish (sandbox/spotctl_sandbox/hub/bus.py): the stream copy for resume, then PUBLISH
DURABLE = ("local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'b', ARGV[1]) "
           "redis.call('EXPIRE', KEYS[1], ARGV[3]) redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1]) return id")

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(port: int, command: str, subscribers: int, requests: int, payload: int) -> dict[str, float]:
    client = redis.Redis(port=port)
    subscribe = {"PUBLISH": "SUBSCRIBE", "SPUBLISH": "SSUBSCRIBE", "DURABLE": "SUBSCRIBE"}[command]
    subs = [subprocess.Popen(["redis-cli", "-p", str(port), subscribe, "room:fanout"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(subscribers)]
    try:
        deadline = time.monotonic() + 10
        count = client.pubsub_shardnumsub if command == "SPUBLISH" else client.pubsub_numsub
        attached = 0
        while time.monotonic() < deadline:
            attached = int(count("room:fanout")[0][1])
            if attached >= subscribers:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"only {attached} of {subscribers} subscribers attached")
        before, started = cpu_seconds(client), time.monotonic()
        args = [command, "room:fanout", "x" * payload] if command != "DURABLE" else \
            ["EVAL", DURABLE, "2", "stream:fanout", "room:fanout", "x" * payload, "1000", "86400"]
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", "4", "-P", "32", "-q",
                              *args], capture_output=True, text=True, check=True)
        elapsed, used = time.monotonic() - started, cpu_seconds(client) - before
        rate = float(re.findall(r"([\d.]+) requests per second", out.stdout)[-1])
    finally:
        for sub in subs:
            sub.terminate()
        for sub in subs:
            sub.wait(5)
        client.close()
    deliveries = rate * subscribers
    return {"publishes_per_s": rate, "deliveries_per_s": deliveries, "redis_cpu": used / elapsed,
            "cpu_ms_per_100k_deliveries": used / (requests * subscribers) * 100_000 * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1,4,16")
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--payload", type=int, default=300, help="bytes per message (a hub frame is ~200-400)")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", data], stdout=subprocess.DEVNULL)
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    version = client.info("server")["redis_version"]
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            print(f"# {platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, redis {version}, "
                  f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, python {sys.version.split()[0]}")
            print(f"{'command':9} {'subs':>4} {'publishes/s':>12} {'deliveries/s':>13} {'redis cpu':>9} "
                  f"{'cpu ms/100k deliveries':>23}")
            for subscribers in (int(s) for s in args.subscribers.split(",")):
                for command in ("PUBLISH", "SPUBLISH", "DURABLE"):
                    r = run(port, command, subscribers, args.requests, args.payload)
                    print(f"{command:9} {subscribers:>4} {r['publishes_per_s']:>12,.0f} "
                          f"{r['deliveries_per_s']:>13,.0f} {r['redis_cpu']:>8.0%} "
                          f"{r['cpu_ms_per_100k_deliveries']:>23.0f}")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
