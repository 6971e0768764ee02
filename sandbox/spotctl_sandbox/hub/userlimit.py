"""The per-user rate limit across workers, judged on when each frame arrived, not when it was handled.

A fixed window in Redis (`limits`' strategies) counts a frame in the window it is *processed* in:
after a stall, a backlog that arrived at a legal pace lands in one window and is refused. Here the
window is the one the frame's arrival time falls in (`HubConnection` stamps frames as they are read),
so a backlog is counted where it belongs. INCR + EXPIRE run as one script call per frame: redis-py's
pipeline machinery was ~10 % of a worker's time at 800 msgs/s (py-spy, issue 18). `limits` still
parses the rate (`HUB_USER_RATE`, e.g. `50/second`).
"""

from __future__ import annotations

import hashlib
import time

from limits import parse as parse_limit
from redis.exceptions import NoScriptError

from spotctl_sandbox.common.leanredis import LeanRedis
from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.realtime import keys

_HIT = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n
"""
_HIT_SHA1 = hashlib.sha1(_HIT.encode()).hexdigest()


class UserLimit:
    def __init__(self, redis: AsyncAnyRedis, rate: str, lean: LeanRedis | None = None) -> None:
        item = parse_limit(rate)
        self.redis, self.amount, self.window_s = redis, item.amount, float(item.get_expiry())
        self.lean = lean  # the same Redis's lean connection (common/leanredis.py), when there is one
        self._hit = redis.register_script(_HIT)
        self._ttl = str(int(2 * self.window_s) + 1)

    async def hit(self, ns: str, user_id: str, arrived: float) -> float | None:
        """Count a frame that arrived at `arrived` (epoch seconds): None if within the limit, else the
        seconds until the user's next window opens."""
        window = int(arrived // self.window_s)
        key = f"{keys.user_rate(ns, user_id)}:{window}"
        count = await (self._hit(keys=[key], args=[self._ttl]) if self.lean is None else self._lean_hit(self.lean, key))
        if int(count) <= self.amount:
            return None
        return max(0.0, (window + 1) * self.window_s - time.time())

    async def _lean_hit(self, lean: LeanRedis, key: str) -> int:
        try:
            return int(await lean.call("EVALSHA", _HIT_SHA1, 1, key, self._ttl))
        except NoScriptError:  # not cached on this Redis yet (or it restarted): EVAL caches it
            return int(await lean.call("EVAL", _HIT, 1, key, self._ttl))
