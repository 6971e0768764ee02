"""BullMQ depth per queue and state, read through the bullmq package (what the workers see).

Queues are found by their `bull:<queue>:meta` / `:id` keys, so a queue the stack gains later is
counted without a change here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spotctl_sandbox.common.redisconn import AsyncAnyRedis

PREFIX = "bull"
DISCOVER_EVERY_S = 30.0  # SCAN walks the whole keyspace: look for new queues now and then, not per scrape
STATES = ("waiting", "active", "delayed", "prioritized", "waiting-children", "paused", "completed", "failed")


def queue_names(keys: Iterable[str]) -> list[str]:
    """Queue names from `bull:<queue>:meta` / `bull:<queue>:id` keys (pure)."""
    names = set()
    for key in keys:
        head, _, rest = key.partition(":")
        name, _, suffix = rest.rpartition(":")
        if head == PREFIX and name and suffix in ("meta", "id"):
            names.add(name)
    return sorted(names)


class BullDepthReader:
    def __init__(self, redis: AsyncAnyRedis) -> None:
        self.redis = redis  # a redis.asyncio client (decode_responses=True)
        self._queues: dict[str, Any] = {}
        self._names: list[str] = []
        self._discovered_at = float("-inf")

    async def read(self) -> dict[str, dict[str, int]]:
        """queue -> state -> jobs; raises the client's error when Redis does not answer."""
        from bullmq import Queue

        if time.monotonic() - self._discovered_at > DISCOVER_EVERY_S:
            keys = [k async for k in self.redis.scan_iter(match=f"{PREFIX}:*", count=1000)
                    if k.endswith((":meta", ":id"))]
            self._names, self._discovered_at = queue_names(keys), time.monotonic()
        depth = {}
        for name in self._names:
            queue = self._queues.get(name)
            if queue is None:
                queue = self._queues[name] = Queue(name, {"connection": self.redis})
            counts = await queue.getJobCounts(*STATES)
            depth[name] = {state: int(counts.get(state, 0)) for state in STATES}
        return depth
