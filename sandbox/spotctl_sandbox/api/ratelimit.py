"""Per-IP and per-user rate limits in Redis (sliding window counters from the `limits` library).

Limits are shared by every API process through Redis. Per-IP limiting fails open when Redis is
down or slow (the request then fails on what it really needs, with a 503 naming Redis): it waits at
most IP_CHECK_S, and after a failure skips the check for a second, so an outage costs a request
nothing here. Per-user limiting runs after the token check, which needs Redis anyway, bounded by
the API's dependency timeout. Neither retries (redis-py's default retries a timeout three times,
which made a frozen Redis cost ~10 s per request).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.common import redisconn

log = logging.getLogger(__name__)

IP_CHECK_S = 0.5  # a healthy Redis answers in milliseconds; past this the check fails open
SKIP_AFTER_FAILURE_S = 1.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class RateLimits:
    def __init__(self, redis_url: str, per_ip: str, per_user: str, timeout_s: float = 1.5) -> None:
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_user: RateLimitItem = parse(per_user)
        self.ip_limiter = SlidingWindowCounterRateLimiter(self._storage(redis_url, min(IP_CHECK_S, timeout_s)))
        self.limiter = SlidingWindowCounterRateLimiter(self._storage(redis_url, timeout_s))
        self._ip_failed_at = -SKIP_AFTER_FAILURE_S

    @staticmethod
    def _storage(redis_url: str, timeout_s: float) -> RedisStorage | RedisClusterStorage:
        no_retry: Any = Retry(NoBackoff(), 0)
        kind = RedisClusterStorage if redisconn.is_cluster_url(redis_url) else RedisStorage  # limits' own two
        return kind(redisconn.limits_url(redis_url), implementation="redispy", socket_connect_timeout=timeout_s,
                    socket_timeout=timeout_s, retry=no_retry)

    @staticmethod
    async def _hit(limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, scope: str, key: str) -> Verdict:
        if await limiter.hit(item, scope, key):
            return Verdict(True, 0)
        stats = await limiter.get_window_stats(item, scope, key)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def check_ip(self, ip: str) -> Verdict:
        if time.monotonic() - self._ip_failed_at < SKIP_AFTER_FAILURE_S:
            return Verdict(True, 0)
        try:
            return await self._hit(self.ip_limiter, self.per_ip, "ip", ip)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            self._ip_failed_at = time.monotonic()
            log.warning("rate limiter cannot reach Redis (%s); letting requests through for %g s", exc,
                        SKIP_AFTER_FAILURE_S)
            return Verdict(True, 0)

    async def enforce_user(self, user_id: str) -> None:
        verdict = await self._hit(self.limiter, self.per_user, "user", user_id)
        if not verdict.allowed:
            metrics.RATE_LIMITED.labels("user").inc()
            raise ApiError(429, f"rate limit exceeded for user {user_id} ({self.per_user})",
                           headers={"Retry-After": str(verdict.retry_after_s)})
