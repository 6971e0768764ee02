"""The notifications scenario's sender: `publish_notification` at a fixed rate with a priority mix.

A process of its own because the hub's publisher is asyncio and Locust workers are gevent. It waits
for the ramp to finish (the master writes `ramped`), then sends open-loop: each notification carries
its scheduled time and a per-user sequence number, so receivers measure delivery time and order.
Run by `run.py`; stops on SIGTERM and leaves its counts in `notifier.json`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from collections import Counter

from spotctl_sandbox.realtime.publish import publish_notification

from .config import RunConfig

# 20-slot cycle: 8 LOW, 8 NORMAL, 3 HIGH, 1 CRITICAL
MIX = ("LOW", "NORMAL", "LOW", "NORMAL", "HIGH", "LOW", "NORMAL", "LOW", "NORMAL", "CRITICAL",
       "LOW", "NORMAL", "HIGH", "LOW", "NORMAL", "LOW", "NORMAL", "HIGH", "LOW", "NORMAL")


async def main(config: RunConfig) -> None:
    import redis.asyncio as aioredis

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    except NotImplementedError:  # Windows: a plain handler that wakes the loop
        signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stop.set))
    ramped = config.results / "ramped"
    while not ramped.exists() and not stop.is_set():
        await asyncio.sleep(0.2)
    redis = aioredis.Redis.from_url(config.redis_url)
    sent: Counter[str] = Counter()
    seqs: Counter[int] = Counter()
    interval = 1.0 / config.msg_rate
    scheduled = time.time()
    try:
        for n in itertools.count():
            if stop.is_set():
                break
            delay = scheduled - time.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            user = n % config.users
            priority = MIX[n % len(MIX)]
            await publish_notification(redis, config.user_id(user), title="load", body=f"load {n}",
                                       priority=priority, kind="generic",
                                       data={"ts": scheduled, "seq": seqs[user], "priority": priority})
            seqs[user] += 1
            sent[priority] += 1
            if n % 50 == 0:
                write(config, sent)
            scheduled += interval
    finally:
        write(config, sent)
        await redis.aclose()


def write(config: RunConfig, sent: Counter[str]) -> None:
    (config.results / "notifier.json").write_text(json.dumps({"sent": sum(sent.values()),
                                                              "by_priority": dict(sent)}))


if __name__ == "__main__":
    asyncio.run(main(RunConfig.from_env()))
