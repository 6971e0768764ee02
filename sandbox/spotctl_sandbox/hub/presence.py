"""Presence in Redis: every live connection in its user's sorted set, across workers and hosts.

A connection is a member `"<connected_ms>:<conn_id>"` scored by its last refresh; each worker
re-stamps its own every `stale_after_s / 3`, so a dead worker's connections fade to offline.
Decisions (status, the per-user cap) are `core.presence`; this is the I/O around them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.realtime import bus, keys

from .conn import Conn
from .core.presence import Presence, over_cap, status

REFRESH_BATCH = 1000
_REFRESH = """
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[i + 2])
  redis.call('EXPIRE', key, ARGV[2])
end
return #KEYS
"""


class PresenceStore:
    def __init__(self, redis: AsyncAnyRedis, stale_after_s: float) -> None:
        self.redis, self.stale_after_s = redis, stale_after_s
        self._refresh_script = redis.register_script(_REFRESH)

    async def arrive(self, conn: Conn, cap: int) -> list[str]:
        """Count the connection for its user; the members (oldest first) now over the user's cap."""
        key = keys.conns(conn.ns, conn.user_id)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - self.stale_after_s)
            pipe.zadd(key, {conn.member: now})
            pipe.expire(key, int(self.stale_after_s * 2))
            pipe.zrange(key, 0, -1)
            *_, members = await pipe.execute()
        victims = over_cap([bus.text_of(m) for m in members], cap)
        if victims:
            await self.redis.zrem(key, *victims)
        return victims

    async def leave(self, conn: Conn) -> None:
        await self.redis.zrem(keys.conns(conn.ns, conn.user_id), conn.member)

    async def set_away(self, ns: str, user_id: str, away: bool) -> None:
        key = keys.away(ns, user_id)
        if away:
            await self.redis.set(key, "1", ex=int(self.stale_after_s * 2))
        else:
            await self.redis.delete(key)

    async def statuses(self, ns: str, user_ids: list[str]) -> dict[str, str]:
        cutoff = time.time() - self.stale_after_s
        async with self.redis.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.zcount(keys.conns(ns, uid), cutoff, "+inf")
                pipe.exists(keys.away(ns, uid))
            raw = await pipe.execute()
        return {uid: status(int(raw[2 * i]), bool(raw[2 * i + 1])).value for i, uid in enumerate(user_ids)}

    async def of(self, ns: str, user_id: str) -> Presence:
        return Presence((await self.statuses(ns, [user_id]))[user_id])

    async def refresh(self, conns: Sequence[Conn]) -> None:
        """Re-stamp connections (a snapshot: the caller's dict changes while this awaits) in their
        users' sets, a thousand per script call.

        A pipeline of ZADD + EXPIRE per connection cost redis-py ~125 µs of Python per command: at
        6,000 connections per worker that was a third of the worker's CPU (py-spy, 100k load run).
        """
        now, ttl = time.time(), int(self.stale_after_s * 2)
        for group in _by_slot(conns) if isinstance(self.redis, RedisCluster) else [conns]:
            for start in range(0, len(group), REFRESH_BATCH):
                batch = group[start:start + REFRESH_BATCH]
                await self._refresh_script(keys=[keys.conns(c.ns, c.user_id) for c in batch],
                                           args=[now, ttl, *(c.member for c in batch)])


def _by_slot(conns: Sequence[Conn]) -> list[list[Conn]]:
    """On a cluster a script's keys share a slot: one call per slot (users' sets spread over them all)."""
    groups: dict[int, list[Conn]] = {}
    for conn in conns:
        groups.setdefault(key_slot(keys.conns(conn.ns, conn.user_id).encode()), []).append(conn)
    return list(groups.values())
