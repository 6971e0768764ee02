"""Benchmark (not a test): classic vs sharded pub/sub on a Redis Cluster of three masters + replicas.

    python benchmarks/redis_cluster_fanout.py [--requests 100000] [--subscribers 4] [--payload 300]

Starts six redis-server nodes in cluster mode on free ports, joins them (`redis-cli --cluster
create`), attaches S `redis-cli` subscribers to the master that owns the hub channel's slot and
publishes with `redis-benchmark` to that master: PUBLISH (classic: the cluster bus forwards every
message to every node) then SPUBLISH (sharded: the message stays in its shard, master + replica).
Prints publishes/s and, per 100k publishes, the CPU the owning master and all the other nodes spent
and the cluster-bus messages sent. Everything shares this machine's cores: read the CPU columns.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

CHANNEL = "hub:bench:t:{room:r}"  # keys.channel(): the hash tag is the topic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu(port: int) -> float:
    info = redis.Redis(port=port).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def bus_sent(port: int) -> int:
    text = redis.Redis(port=port).execute_command("CLUSTER", "INFO").decode()
    return int(re.search(r"cluster_stats_messages_sent:(\d+)", text).group(1))  # type: ignore[union-attr]


def start(folder: Path) -> list[tuple[int, subprocess.Popen[bytes]]]:
    nodes = []
    for i in range(6):
        port, bus = free_port(), free_port()
        (folder / str(i)).mkdir()
        nodes.append((port, subprocess.Popen(
            ["redis-server", "--port", str(port), "--cluster-port", str(bus), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
             "--dir", str(folder / str(i))], stdout=subprocess.DEVNULL)))
    for port, _ in nodes:
        for _ in range(100):
            try:
                redis.Redis(port=port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
    subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p, _ in nodes),
                    "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True)
    for _ in range(200):
        if all(b"cluster_state:ok" in redis.Redis(port=p).execute_command("CLUSTER", "INFO") for p, _ in nodes):
            break
        time.sleep(0.05)
    return nodes


def owner(port: int) -> int:
    client = redis.Redis(port=port)
    slot = int(client.execute_command("CLUSTER", "KEYSLOT", CHANNEL))
    for first, last, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
        if first <= slot <= last:
            return int(master[1])
    raise LookupError(slot)


def run(ports: list[int], master: int, command: str, subscribers: int, requests: int, payload: int) -> str:
    verb = {"PUBLISH": "SUBSCRIBE", "SPUBLISH": "SSUBSCRIBE"}[command]
    subs = [subprocess.Popen(["redis-cli", "-p", str(master), verb, CHANNEL], stdout=subprocess.DEVNULL)
            for _ in range(subscribers)]
    time.sleep(0.5)
    try:
        cpu0, bus0, started = {p: cpu(p) for p in ports}, sum(bus_sent(p) for p in ports), time.monotonic()
        out = subprocess.run(["redis-benchmark", "-p", str(master), "-n", str(requests), "-c", "4", "-P", "32", "-q",
                              command, CHANNEL, "x" * payload], capture_output=True, text=True, check=True)
        time.sleep(0.5)  # let the cluster bus drain before reading the counters
        used = {p: cpu(p) - cpu0[p] for p in ports}
        bus = sum(bus_sent(p) for p in ports) - bus0
    finally:
        for sub in subs:
            sub.terminate()
            sub.wait(5)
    rate = float(re.findall(r"([\d.]+) requests per second", out.stdout)[-1])
    per = 100_000 / requests * 1000
    others = sum(v for p, v in used.items() if p != master)
    return (f"{command:9} {rate:>12,.0f} {used[master] * per:>14.0f} {others * per:>15.0f} "
            f"{bus / requests:>13.2f}   ({time.monotonic() - started:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--payload", type=int, default=300)
    args = parser.parse_args()
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    with tempfile.TemporaryDirectory() as data:
        nodes = start(Path(data))
        try:
            ports = [p for p, _ in nodes]
            master = owner(ports[0])
            version = redis.Redis(port=master).info("server")["redis_version"]
            print(f"# {platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, redis {version}, "
                  f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 3 masters + 3 replicas, "
                  f"{args.subscribers} subscribers on the slot's master, {args.payload} B messages")
            print(f"{'command':9} {'publishes/s':>12} {'master ms/100k':>14} {'others ms/100k':>15} "
                  f"{'bus msgs/pub':>13}")
            for command in ("PUBLISH", "SPUBLISH"):
                print(run(ports, master, command, args.subscribers, args.requests, args.payload))
        finally:
            for _, proc in nodes:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()
