"""The compose `redis-cluster` one-shot (`redis-cli --cluster create ...`), run once by the local runtime.

The nodes are ordinary `redis` services started in cluster mode; this joins them, with the compose
command itself (host names rewritten to this machine's ports), unless they already form the cluster
(their `nodes.conf` survives `spotctl down`). Nothing keeps running: the runtime probes the result as
an external service, named by the cluster URL the services take (REDIS_CLUSTER_URL).
"""

from __future__ import annotations

import re
import subprocess
import time

from spotctl.stack import plan
from spotctl.stack.drivers import Absent, Context, External, which

_NODE = re.compile(r"^[\w.-]+:\d+$")


def _info(host: str, port: int) -> dict[str, str]:
    import redis

    with redis.Redis(host=host, port=port, socket_connect_timeout=1, socket_timeout=2) as client:
        raw = client.execute_command("CLUSTER", "INFO")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _replica_linked(host: str, port: int) -> bool:
    """A master, or a replica whose link to its master is up. A replica that has never synced refuses
    to be promoted (its data counts as too old), so until then its master's death loses the slots."""
    import redis

    with redis.Redis(host=host, port=port, socket_connect_timeout=1, socket_timeout=2) as client:
        info = client.info("replication")
    return info.get("role") == "master" or info.get("master_link_status") == "up"


def formed(nodes: list[tuple[str, int]]) -> bool:
    """Every node answers, sees all the others and serves all 16384 slots, and every replica has synced:
    from then on any one master can die and its replica takes over."""
    try:
        infos = [_info(h, p) for h, p in nodes]
        if not all(i.get("cluster_state") == "ok" and int(i.get("cluster_known_nodes", 0)) >= len(nodes)
                   for i in infos):
            return False
        return all(_replica_linked(h, p) for h, p in nodes)
    except Exception:
        return False


def joined(nodes: list[tuple[str, int]]) -> bool:
    """Some node already knows others (a cluster made before, from its nodes.conf): do not create again."""
    try:
        return any(int(_info(h, p).get("cluster_known_nodes", 1)) > 1 for h, p in nodes)
    except Exception:
        return False


def _wait(nodes: list[tuple[str, int]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not formed(nodes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def find_cli() -> str:
    cli = which("redis-cli")
    if cli is None:
        raise Absent("redis-cli not found", "apt-get install redis-tools (it comes with redis-server)")
    return cli


def launch(ctx: Context) -> External:
    cli = find_cli()
    args = [plan.rewrite_value(a, ctx.compose, ctx.project) for a in ctx.service.command[1:]]
    nodes = [(a.rpartition(":")[0], int(a.rpartition(":")[2])) for a in args if _NODE.match(a)]
    fresh = "spotctl down redis-node-1 ... redis-node-6 --volumes, then up again for fresh nodes"
    if joined(nodes):  # restarted nodes find each other again from nodes.conf (a few seconds of gossip)
        if not _wait(nodes, 30):
            raise Absent("the Redis Cluster nodes know each other but do not serve every slot", fresh)
    elif not formed(nodes):
        done = subprocess.run([cli, *args], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise Absent(f"redis-cli --cluster create failed: {(done.stdout + done.stderr).strip()[-300:]}", fresh)
        _wait(nodes, 30)
    url = f"redis+cluster://{nodes[0][0]}:{nodes[0][1]}"  # any one node is enough for a client
    return External(url=url, note=f"Redis Cluster of {len(nodes)} nodes: {plan.CLUSTER_URL}={url}")
