"""Cache-aside song metadata: Redis `song:<id>` (1 h), else PostgreSQL, then cache it.

The lookup and the hit/miss counter (`stats:cache:hit` / `stats:cache:miss`) are one Lua call, so
a cache hit costs a single Redis round trip.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio.cluster import RedisCluster

from spotctl_sandbox import contract
from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.resources import Resources

SONG_TTL_S = 3600
HIT_KEY, MISS_KEY = contract.CACHE_HIT_KEY, contract.CACHE_MISS_KEY
SONG_COLUMNS = "id, title, artist_id, artist, album_id, album, duration_s, mime_type, audio_path, released_at"
_GET_COUNTING = """
local v = redis.call('GET', KEYS[1])
if v then redis.call('INCR', KEYS[2]) else redis.call('INCR', KEYS[3]) end
return v
"""


def song_key(song_id: int) -> str:
    return f"song:{song_id}"


def row_to_song(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in SONG_COLUMNS.split(",")]
    song = dict(zip(keys, row, strict=True))
    song["released_at"] = song["released_at"].isoformat()
    return song


async def _cached(res: Resources, song_id: int) -> Any:
    if isinstance(res.redis, RedisCluster):  # the counters live on other shards: two calls there
        cached = await res.redis.get(song_key(song_id))
        await res.redis.incr(HIT_KEY if cached is not None else MISS_KEY)
        return cached
    script = res.redis.register_script(_GET_COUNTING)
    return await script(keys=[song_key(song_id), HIT_KEY, MISS_KEY])


async def get_song(res: Resources, song_id: int) -> tuple[dict[str, Any] | None, bool]:
    """(song or None, served from cache?)."""
    cached = await _cached(res, song_id)
    if cached is not None:
        metrics.CACHE.labels("song", "hit").inc()
        return json.loads(cached), True
    metrics.CACHE.labels("song", "miss").inc()
    async with res.pool.connection() as conn:
        cur = await conn.execute(f"SELECT {SONG_COLUMNS} FROM songs WHERE id = %s", (song_id,))
        row = await cur.fetchone()
    if row is None:
        return None, False
    song = row_to_song(row)
    await res.redis.set(song_key(song_id), json.dumps(song), ex=SONG_TTL_S)
    return song, False


def public(song: dict[str, Any]) -> dict[str, Any]:
    """What clients see: the storage path stays inside."""
    return {k: v for k, v in song.items() if k != "audio_path"}
