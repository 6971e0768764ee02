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


def formed(nodes: list[tuple[str, int]]) -> bool:
    """Every node answers, sees all the others and serves all 16384 slots."""
    try:
        infos = [_info(h, p) for h, p in nodes]
    except Exception:
        return False
    return all(i.get("cluster_state") == "ok" and int(i.get("cluster_known_nodes", 0)) >= len(nodes)
               for i in infos)


def launch(ctx: Context) -> External:
    cli = which("redis-cli")
    if cli is None:
        raise Absent("redis-cli not found", "apt-get install redis-tools (it comes with redis-server)")
    args = [plan.rewrite_value(a, ctx.compose, ctx.project) for a in ctx.service.command[1:]]
    nodes = [(a.rpartition(":")[0], int(a.rpartition(":")[2])) for a in args if _NODE.match(a)]
    if not formed(nodes):
        done = subprocess.run([cli, *args], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise Absent(f"redis-cli --cluster create failed: {(done.stdout + done.stderr).strip()[-300:]}",
                         "spotctl down redis-node-1 ... redis-node-6 --volumes, then up again for fresh nodes")
        deadline = time.monotonic() + 30
        while not formed(nodes) and time.monotonic() < deadline:
            time.sleep(0.2)
    url = "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in nodes)
    return External(url=url, note=f"Redis Cluster of {len(nodes)} nodes; REDIS_CLUSTER_URL={url}")
