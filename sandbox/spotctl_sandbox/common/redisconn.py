"""A Redis URL to a client: one server (`redis://`, `rediss://`, `unix://`) or a Redis Cluster.

A cluster is named `redis+cluster://[:password@]host:port[,host:port...][/0]` (`rediss+cluster://`
for TLS): the scheme the `limits` library already reads, so the same value works for the services'
clients and their rate limiters. Any one reachable node is enough; the client learns the rest from
`CLUSTER SLOTS`. `REDIS_CLUSTER_URL`, when set, is what the API, the hub and the workers use instead of
`REDIS_URL` (`Settings.cluster_or_redis_url`); the other parts keep `REDIS_URL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

AsyncAnyRedis = aioredis.Redis | AsyncRedisCluster
"""What the services' async code talks to: `isinstance(r, AsyncRedisCluster)` tells them apart."""


@dataclass(frozen=True)
class ClusterTarget:
    nodes: tuple[tuple[str, int], ...]
    password: str | None
    username: str | None
    ssl: bool


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def parse_cluster(url: str) -> ClusterTarget:
    """`redis+cluster://h1:7001,h2:7002` -> its seed nodes; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError(f"{url!r} is not a cluster URL (redis+cluster://host:port[,host:port...])")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0: drop the path from the URL")
    nodes = []
    for item in filter(None, hosts.split(",")):
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"cluster node {item!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError("a cluster URL names at least one node: redis+cluster://host:port")
    return ClusterTarget(tuple(nodes), unquote(password) or None, unquote(username) or None,
                         parts.scheme.lower().startswith("rediss"))


def connect_async(url: str, **kwargs: Any) -> AsyncAnyRedis:
    """An asyncio client for `url`; kwargs go to the client (socket timeouts, decode_responses...)."""
    if not is_cluster_url(url):
        return aioredis.Redis.from_url(url, **kwargs)
    target = parse_cluster(url)
    return AsyncRedisCluster(startup_nodes=[AsyncClusterNode(h, p) for h, p in target.nodes],
                             password=target.password, username=target.username, ssl=target.ssl, **kwargs)


def connect(url: str, **kwargs: Any) -> redis.Redis | RedisCluster:
    """The blocking twin of connect_async()."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **kwargs)
    target = parse_cluster(url)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target.nodes], password=target.password,
                        username=target.username, ssl=target.ssl, **kwargs)


def limits_url(url: str) -> str:
    """The URL for `limits`' asyncio storage: `async+redis://...` or `async+redis+cluster://...`."""
    return url if url.startswith("async+") else "async+" + url


async def add_jobs(queue: Any, jobs: list[dict[str, Any]], cluster: bool) -> None:
    """BullMQ jobs (`{name, data, opts}`) into `queue`: one pipelined `addBulk` on a single Redis; one
    `add` each on a cluster, where redis-py refuses EVALSHA inside a cluster pipeline."""
    if not cluster:
        await queue.addBulk(jobs)
        return
    for job in jobs:
        await queue.add(job["name"], job["data"], job.get("opts") or {})
