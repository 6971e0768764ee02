"""CacheStorage: Redis for live counters (the open minute of each tenant), short-lived query results
and the pub/sub channel live views listen on."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

LIVE_CHANNEL = "analytics:live"
LIVE_TTL_S = 600


def live_key(tenant: str) -> str:
    return f"analytics:live:{tenant}"


class CacheStorage:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def set_live(self, tenant: str, window_start: float, values: dict[str, float]) -> None:
        """The tenant's current minute, as a hash a dashboard (or `spotctl redis get`) reads at once."""
        key = live_key(tenant)
        async with self.redis.pipeline(transaction=True) as pipe:
            mapping: dict[str | bytes, str | float] = {"window_start": window_start}
            mapping.update(values)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, LIVE_TTL_S)
            await pipe.execute()

    async def get_live(self, tenant: str) -> dict[str, float]:
        raw = await self.redis.hgetall(live_key(tenant))
        return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}

    async def publish(self, frame: dict[str, Any]) -> None:
        await self.redis.publish(LIVE_CHANNEL, orjson.dumps(frame))

    async def cached(self, key: str) -> Any | None:
        raw = await self.redis.get(f"analytics:cache:{key}")
        return None if raw is None else orjson.loads(raw)

    async def cache(self, key: str, value: Any, ttl_s: int) -> None:
        await self.redis.set(f"analytics:cache:{key}", orjson.dumps(value), ex=ttl_s)

    async def ping(self) -> None:
        await self.redis.ping()
