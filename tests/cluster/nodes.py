"""Real redis-server processes in cluster mode on the test block's ports: start, join, kill, watch.

The compose file's redis-node-N ports (TEST_PORTS), the cluster bus on ports the caller picks, and the
same options as the `redis-cluster` profile.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from spotctl.stack.drivers import redis_cluster

NODE_TIMEOUT_MS = 1000  # compose says 2000; shorter here so a failover test takes ~2 s, not ~4


@dataclass
class Node:
    port: int
    bus_port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--cluster-enabled", "yes", "--cluster-port", str(self.bus_port), "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--appendonly", "no", "--save", "",
             "--repl-diskless-sync-delay", "0",
             "--protected-mode", "no", "--daemonize", "no", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def role(self) -> str:
        with self.client() as c:
            return str(c.execute_command("ROLE")[0].decode())


@dataclass
class Cluster:
    nodes: list[Node]
    replicas: int = 1
    killed: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 20) -> Cluster:
        for node in self.nodes:
            shutil.rmtree(node.folder, ignore_errors=True)
            node.start()
        _until(lambda: all(_pings(n) for n in self.nodes), timeout_s, "nodes did not answer")
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        self.wait_ok(timeout_s)
        return self

    def wait_ok(self, timeout_s: float = 20) -> None:
        """What `spotctl up -p redis-cluster` waits for: every slot served and every replica synced."""
        _until(lambda: redis_cluster.formed([("127.0.0.1", n.port) for n in self.nodes]), timeout_s,
               "cluster not formed")

    def master_of(self, key: str) -> Node:
        """The node serving `key`'s slot now, as a live node sees it."""
        with next(n for n in self.nodes if n not in self.killed).client() as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(key)

    def kill(self, node: Node) -> None:
        node.kill()
        self.killed.append(node)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


def _pings(node: Node) -> bool:
    try:
        with node.client() as c:
            return bool(c.ping())
    except redis.RedisError:
        return False


def _until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(what)
