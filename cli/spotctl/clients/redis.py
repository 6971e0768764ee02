"""Redis: `spotctl redis`, the TUI's key browser and the guide's redis checks read keys through here.

Sync redis-py (the TUI calls it from a thread worker, the guide through `asyncio.to_thread`). Reads
are SCAN-based and bounded by a limit: a browser, not a dump. A `redis+cluster://` URL gets a cluster
client (`redisconn.connect`): SCAN then runs on every master, commands on a key go to its slot's master.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from spotctl.clients.reach import reaching, redact, require
from spotctl.errors import SpotctlError, UsageError
from spotctl.inspect.redis_view import (
    APP_HIT_KEY,
    APP_MISS_KEY,
    KeyRow,
    KeyType,
    KeyView,
    summarize_cluster,
    summarize_info,
)
from spotctl.inspect.values import decode

if TYPE_CHECKING:
    import redis
    import redis.client
    from redis.cluster import RedisCluster

    from spotctl_sandbox.common.redisconn import AsyncAnyRedis

KEY, CLUSTER_KEY = "REDIS_URL", "REDIS_CLUSTER_URL"
CLUSTER_HINT = "a cluster URL is redis+cluster://host:port[,host:port...] (any one node will do)"
T = TypeVar("T")


def key_of(url: str) -> str:
    """The variable a Redis URL stands for in error lines: REDIS_CLUSTER_URL for a cluster URL."""
    from spotctl_sandbox.common.redisconn import is_cluster_url

    return CLUSTER_KEY if url and is_cluster_url(url) else KEY


def errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises when no server (or no cluster node) answers."""
    import redis
    from redis.exceptions import RedisClusterException

    return redis.ConnectionError, redis.TimeoutError, RedisClusterException


def open_sync(url: str, **kwargs: Any) -> redis.Redis | RedisCluster:
    """`redisconn.connect(url)`: a cluster URL that cannot work is a UsageError naming its variable, a
    cluster none of whose nodes answers a ServiceDown (a cluster client asks its nodes right away)."""
    from spotctl_sandbox.common import redisconn

    key = key_of(require(KEY, url))
    try:
        with reaching(key, url, *errors()):
            return redisconn.connect(url, **kwargs)
    except ValueError as exc:
        raise UsageError(f"{key}: {exc}", hint=CLUSTER_HINT) from None


def open_async(url: str, **kwargs: Any) -> AsyncAnyRedis:
    """`redisconn.connect_async(url)`, a cluster URL that cannot work a UsageError (it connects later)."""
    from spotctl_sandbox.common import redisconn

    key = key_of(require(KEY, url))
    try:
        return redisconn.connect_async(url, **kwargs)
    except ValueError as exc:
        raise UsageError(f"{key}: {exc}", hint=CLUSTER_HINT) from None


class RedisClient:
    """A connection to one Redis or a Redis Cluster; a connection failure is one ServiceDown line, a
    refusal a SpotctlError."""

    def __init__(self, url: str, *, timeout: float = 10) -> None:
        from redis.cluster import RedisCluster

        self.url = require(KEY, url)
        self.variable = key_of(self.url)
        self.redis = open_sync(self.url, socket_connect_timeout=2, socket_timeout=timeout)
        self.cluster: RedisCluster | None = self.redis if isinstance(self.redis, RedisCluster) else None

    def __enter__(self) -> RedisClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.redis.close()

    @contextmanager
    def calls(self) -> Iterator[None]:
        """Library errors inside the block as the errors a user can read."""
        import redis

        with reaching(self.variable, self.url, *errors()):
            try:
                yield
            except (redis.exceptions.MovedError, redis.exceptions.ClusterCrossSlotError):  # a plain client on a
                # cluster node, asking for another node's key (or for keys of several slots at once)
                raise UsageError(f"{redact(self.url)} is a node of a Redis Cluster: its keys are spread over "
                                 "the nodes", hint=f"name it as a cluster: {CLUSTER_HINT}") from None
            except redis.ResponseError as exc:
                raise SpotctlError(f"redis refused: {exc}") from None

    def ping(self) -> None:
        with self.calls():
            self.redis.ping()

    def info(self) -> dict[str, Any]:
        """INFO summarised (memory, clients, hit rates) with the API cache's own hit/miss counters; on a
        cluster, over its masters, with CLUSTER INFO and a line per node (`summarize_cluster`)."""
        with self.calls():
            if self.cluster is None:
                hits, misses = self.redis.mget(APP_HIT_KEY, APP_MISS_KEY)
                return summarize_info(self.redis.info("all"), int(hits or 0), int(misses or 0))
            hits, misses = self.cluster.mget_nonatomic(APP_HIT_KEY, APP_MISS_KEY)  # two slots: one GET each
            nodes = self.cluster.info("all", target_nodes=self.cluster.ALL_NODES)
            state = self.cluster.cluster_info()
        if "redis_version" in nodes:  # a cluster of one node answers as one server
            nodes = {self.cluster.get_default_node().name: nodes}  # type: ignore[no-untyped-call]  # unannotated
        return summarize_cluster(state, nodes, int(hits or 0), int(misses or 0))

    def scan(self, pattern: str, limit: int) -> tuple[list[KeyRow], bool]:
        """(key, type, ttl) of the first `limit` keys matching `pattern`, sorted; and whether more matched.

        SCAN (never KEYS; on a cluster on every master), then type and TTL of every key in one pipelined
        round trip (one per master on a cluster).
        """
        names: list[bytes] = []
        with self.calls():
            for name in self.redis.scan_iter(match=pattern or "*", count=1000):
                if len(names) > limit:
                    break
                names.append(name)
            truncated = len(names) > limit
            names = sorted(names[:limit])
            pipe = self.redis.pipeline(transaction=False)
            for name in names:
                pipe.type(name)
                pipe.ttl(name)
            replies = pipe.execute()
        rows = [KeyRow(decode(n) or "", decode(replies[2 * i]) or "", int(replies[2 * i + 1]))
                for i, n in enumerate(names)]
        return rows, truncated

    def type_of(self, key: str) -> KeyType:
        with self.calls():
            return KeyType(decode(self.redis.type(key)) or "none")

    def key(self, key: str, limit: int) -> KeyView | None:
        """A key's value, whatever its type, at most `limit` elements; None when it does not exist.

        Sorted sets come highest score first (ZREVRANGE, as `top` and leaderboards read them), so a
        truncated view keeps the members that matter.
        """
        kind = self.type_of(key)
        if kind is KeyType.none:
            return None
        r = self.redis
        value: Any
        with self.calls():
            ttl = int(r.ttl(key))
            if kind is KeyType.string:
                length, value = int(r.strlen(key)), decode(r.get(key))
            elif kind is KeyType.hash:
                length = int(r.hlen(key))
                value = {decode(f): decode(v) for f, v in _take(r.hscan_iter(key, count=500), limit)}
            elif kind is KeyType.list:
                length, value = int(r.llen(key)), [decode(v) for v in r.lrange(key, 0, limit - 1)]
            elif kind is KeyType.set:
                length, value = int(r.scard(key)), sorted(decode(v) or "" for v in _take(r.sscan_iter(key), limit))
            elif kind is KeyType.zset:
                length = int(r.zcard(key))
                scored = _scored(r.zrevrange(key, 0, limit - 1, withscores=True))
                value = [{"member": decode(m), "score": score} for m, score in scored]
            else:
                length = int(r.xlen(key))
                entries = list(reversed(r.xrevrange(key, count=limit) or []))
                value = [{"id": decode(i), "fields": {decode(f): decode(v) for f, v in (fields or {}).items()}}
                         for i, fields in entries]
        return KeyView(key, kind, ttl, length, value, truncated=kind is not KeyType.string and length > limit)

    def top(self, key: str, n: int) -> list[tuple[str, float]]:
        """The n highest-scored members of a sorted set (ZREVRANGE WITHSCORES)."""
        with self.calls():
            members = _scored(self.redis.zrevrange(key, 0, n - 1, withscores=True))
        return [(decode(m) or "", s) for m, s in members]

    def types(self, keys: Sequence[str]) -> list[KeyType]:
        """Each key's type in one round trip (`none` for a missing key)."""
        with self.calls():
            pipe = self.redis.pipeline(transaction=False)
            for k in keys:
                pipe.type(k)
            return [KeyType(decode(t) or "none") for t in pipe.execute()]

    def delete(self, keys: Iterable[str]) -> int:
        """DEL; on a cluster split by slot (redis-py sends each master its own keys)."""
        with self.calls():
            return int(self.redis.delete(*keys))

    def subscribed(self, pattern: str, limit: int) -> dict[str, int]:
        """Channels matching `pattern` that someone subscribes to, with how many subscribers (at most
        `limit`, sorted). On a cluster the sharded ones (SSUBSCRIBE, as the hub's workers do there), asked
        of every node and summed: each node knows only its own subscribers."""
        with self.calls():
            if self.cluster is None:
                live = sorted(decode(c) or "" for c in self.redis.pubsub_channels(pattern))[:limit]
                return {decode(k) or "": int(v) for k, v in self.redis.pubsub_numsub(*live)} if live else {}
            every = self.cluster.ALL_NODES
            live = sorted({decode(c) or "" for c in self.cluster.pubsub_shardchannels(pattern, target_nodes=every)})
            numsub = self.cluster.pubsub_shardnumsub(*live[:limit], target_nodes=every) if live else []
        counts: dict[str, int] = {}
        for channel, n in numsub:
            counts[decode(channel) or ""] = counts.get(decode(channel) or "", 0) + int(n)
        return dict(sorted(counts.items()))

    @contextmanager
    def subscribe(self, channels: Sequence[str], *, sharded: bool = False) -> Iterator[Subscription]:
        """Subscribed to `channels` (globs use PSUBSCRIBE; `sharded`: SSUBSCRIBE, each channel at the
        master of its slot on a cluster, which is how the hub publishes there) once the block starts;
        unsubscribed after. Classic messages reach every node of a cluster, so any node will do."""
        from spotctl.inspect.redis_view import is_pattern

        globs = [c for c in channels if is_pattern(c)]
        if sharded and globs:
            raise UsageError(f"a sharded channel has no patterns: {', '.join(globs)}",
                             hint="name each channel (SSUBSCRIBE has no pattern form)")
        plain = [c for c in channels if not is_pattern(c)]
        with self.calls():
            pubsub: redis.client.PubSub = self.redis.pubsub(  # type: ignore[no-untyped-call]  # unannotated
                ignore_subscribe_messages=True)
            try:
                if sharded:
                    pubsub.ssubscribe(*plain)
                elif plain:
                    pubsub.subscribe(*plain)
                if globs:
                    pubsub.psubscribe(*globs)
                yield Subscription(pubsub, sharded=sharded and self.cluster is not None)
            finally:
                pubsub.close()


class Subscription:
    """Messages of a live subscription (see `RedisClient.subscribe`)."""

    def __init__(self, pubsub: redis.client.PubSub, *, sharded: bool = False) -> None:
        self.pubsub = pubsub
        self.sharded = sharded  # a cluster's SSUBSCRIBE: one connection per shard, read in turn

    def _next(self, timeout: float) -> dict[str, Any] | None:
        read = self.pubsub.get_sharded_message if self.sharded else self.pubsub.get_message
        return cast("dict[str, Any] | None", read(ignore_subscribe_messages=True, timeout=timeout))

    def messages(self, *, count: int | None, timeout: float | None) -> Iterator[dict[str, Any]]:
        """{"ts", "channel", "pattern", "data"} per message (data decoded) until `count` or `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            # redis-py's cluster reads its shards' connections in turn, each up to the timeout: keep it short
            poll = 0.1 if self.sharded else 1.0
            msg = self._next(min(left, poll) if left is not None else poll)
            if msg is None:
                continue
            seen += 1
            yield {"ts": time.time(), "channel": decode(msg["channel"]), "pattern": decode(msg.get("pattern")),
                   "data": decode(msg["data"])}


@contextmanager
def connect(url: str, *, timeout: float = 10) -> Iterator[RedisClient]:
    """A client that has answered PING (so a down server is reported before anything else happens)."""
    with RedisClient(url, timeout=timeout) as client:
        client.ping()
        yield client


def _scored(reply: object) -> list[tuple[bytes | str, float]]:
    """A WITHSCORES reply as (member, score) pairs (redis-py types it as either shape)."""
    return [(member, float(score)) for member, score in cast("list[tuple[bytes | str, float]]", reply)]


def _take(items: Iterator[T], n: int) -> list[T]:
    taken: list[T] = []
    for item in items:
        if len(taken) == n:
            break
        taken.append(item)
    return taken
