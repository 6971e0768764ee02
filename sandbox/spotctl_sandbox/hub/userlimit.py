"""The per-user rate limit across workers, judged on when each frame arrived, not when it was handled.

A fixed window in Redis (`limits`' strategies) counts a frame in the window it is *processed* in:
after a stall, a backlog that arrived at a legal pace lands in one window and is refused. Here the
window is the one the frame's arrival time falls in (`HubConnection` stamps frames as they are read),
so a backlog is counted where it belongs. One pipelined INCR + EXPIRE per frame, as before.
`limits` still parses the rate (`HUB_USER_RATE`, e.g. `50/second`).
"""

from __future__ import annotations

import time

from limits import parse as parse_limit

from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.realtime import keys


class UserLimit:
    def __init__(self, redis: AsyncAnyRedis, rate: str) -> None:
        item = parse_limit(rate)
        self.redis, self.amount, self.window_s = redis, item.amount, float(item.get_expiry())

    async def hit(self, ns: str, user_id: str, arrived: float) -> float | None:
        """Count a frame that arrived at `arrived` (epoch seconds): None if within the limit, else the
        seconds until the user's next window opens."""
        window = int(arrived // self.window_s)
        key = f"{keys.user_rate(ns, user_id)}:{window}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, int(2 * self.window_s) + 1)
        count, _ = await pipe.execute()
        if int(count) <= self.amount:
            return None
        return max(0.0, (window + 1) * self.window_s - time.time())
