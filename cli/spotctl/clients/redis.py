"""Redis: `spotctl redis`, the TUI's key browser and the guide's redis checks read keys through here.

Sync redis-py (the TUI calls it from a thread worker, the guide through `asyncio.to_thread`). Reads
are SCAN-based and bounded by a limit: a browser, not a dump.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from spotctl.clients.reach import reaching, require
from spotctl.errors import SpotctlError
from spotctl.inspect.redis_view import APP_HIT_KEY, APP_MISS_KEY, KeyRow, KeyType, KeyView, summarize_info
from spotctl.inspect.values import decode

if TYPE_CHECKING:
    import redis
    import redis.client

KEY = "REDIS_URL"
T = TypeVar("T")


class RedisClient:
    """A connection to one Redis; a connection failure is one ServiceDown line, a refusal a SpotctlError."""

    def __init__(self, url: str, *, timeout: float = 10) -> None:
        import redis

        self.url = require(KEY, url)
        self.redis: redis.Redis = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=timeout)

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

        with reaching(KEY, self.url, redis.ConnectionError, redis.TimeoutError):
            try:
                yield
            except redis.ResponseError as exc:
                raise SpotctlError(f"redis refused: {exc}") from None

    def ping(self) -> None:
        with self.calls():
            self.redis.ping()

    def info(self) -> dict[str, Any]:
        """INFO summarised (memory, clients, hit rates) with the API cache's own hit/miss counters."""
        with self.calls():
            raw = self.redis.info("all")
            hits, misses = self.redis.mget(APP_HIT_KEY, APP_MISS_KEY)
        return summarize_info(raw, int(hits or 0), int(misses or 0))

    def scan(self, pattern: str, limit: int) -> tuple[list[KeyRow], bool]:
        """(key, type, ttl) of the first `limit` keys matching `pattern`, sorted; and whether more matched.

        SCAN (never KEYS), then type and TTL of every key in one pipelined round trip.
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
        with self.calls():
            return int(self.redis.delete(*keys))

    @contextmanager
    def subscribe(self, channels: Sequence[str]) -> Iterator[Subscription]:
        """Subscribed to `channels` (globs use PSUBSCRIBE) once the block starts; unsubscribed after."""
        from spotctl.inspect.redis_view import is_pattern

        with self.calls():
            pubsub: redis.client.PubSub = self.redis.pubsub(  # type: ignore[no-untyped-call]  # unannotated
                ignore_subscribe_messages=True)
            try:
                plain = [c for c in channels if not is_pattern(c)]
                globs = [c for c in channels if is_pattern(c)]
                if plain:
                    pubsub.subscribe(*plain)
                if globs:
                    pubsub.psubscribe(*globs)
                yield Subscription(pubsub)
            finally:
                pubsub.close()


class Subscription:
    """Messages of a live subscription (see `RedisClient.subscribe`)."""

    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self.pubsub = pubsub

    def messages(self, *, count: int | None, timeout: float | None) -> Iterator[dict[str, Any]]:
        """{"ts", "channel", "pattern", "data"} per message (data decoded) until `count` or `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            msg = self.pubsub.get_message(timeout=min(left, 1.0) if left is not None else 1.0)
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
