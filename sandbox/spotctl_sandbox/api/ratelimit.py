"""Per-IP and per-user rate limits in Redis (sliding window counters from the `limits` library).

Limits are shared by every API process through Redis. Per-IP limiting fails open when Redis is
down (the request then fails on what it really needs, with a 503 naming Redis); per-user limiting
runs after the token check, which needs Redis anyway.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis.exceptions
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.errors import ApiError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class RateLimits:
    def __init__(self, redis_url: str, per_ip: str, per_user: str) -> None:
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_user: RateLimitItem = parse(per_user)
        self.storage = RedisStorage(f"async+{redis_url}", implementation="redispy",
                                    socket_connect_timeout=1, socket_timeout=2)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def _hit(self, item: RateLimitItem, scope: str, key: str) -> Verdict:
        if await self.limiter.hit(item, scope, key):
            return Verdict(True, 0)
        stats = await self.limiter.get_window_stats(item, scope, key)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def check_ip(self, ip: str) -> Verdict:
        try:
            return await self._hit(self.per_ip, "ip", ip)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("rate limiter cannot reach Redis (%s); letting %s through", exc, ip)
            return Verdict(True, 0)

    async def enforce_user(self, user_id: str) -> None:
        verdict = await self._hit(self.per_user, "user", user_id)
        if not verdict.allowed:
            metrics.RATE_LIMITED.labels("user").inc()
            raise ApiError(429, f"rate limit exceeded for user {user_id} ({self.per_user})",
                           headers={"Retry-After": str(verdict.retry_after_s)})
