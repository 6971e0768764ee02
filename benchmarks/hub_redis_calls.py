"""Benchmark of the two Redis calls a client message costs the hub (not a test): the per-user rate
check and the durable publish, as the hub makes them now and the alternatives measured for issue 18
(the rate check was an INCR + EXPIRE pipeline, the publish EVAL, both through redis-py; now both go
through common/leanredis.py): hub
CPU µs per call (the client side: Python work and socket syscalls), Redis CPU µs per call (its INFO
cpu) and wall µs per call, alternated so drift hits both alike.

    .venv/bin/python benchmarks/hub_redis_calls.py --calls 3000 --rounds 3   # REDIS_URL from the env
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from spotctl_sandbox.common.leanredis import beside
from spotctl_sandbox.hub.userlimit import UserLimit
from spotctl_sandbox.realtime import bus, keys, protocol
from spotctl_sandbox.realtime.topics import Topic


async def redis_cpu_s(redis: aioredis.Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def timed(redis: aioredis.Redis, calls: int,
                call: Callable[[int], Awaitable[object]]) -> tuple[float, float, float]:
    server = await redis_cpu_s(redis)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(calls):
        await call(i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    server = await redis_cpu_s(redis) - server
    return cpu / calls * 1e6, server / calls * 1e6, wall / calls * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), max_connections=64, timeout=2.0,
        socket_timeout=1.0, socket_connect_timeout=1.0))
    limit = UserLimit(redis, "1000000/second")
    lean = beside(redis, 1.0)
    assert lean is not None, "REDIS_URL must name one Redis over TCP"
    lean_limit = UserLimit(redis, "1000000/second", lean)
    topic = Topic.room("bench-calls")
    body = protocol.dumps(protocol.body("room_message", {"room": "r", "from": "u", "data": {"ts": 1.5, "seq": 1}},
                                        topic=str(topic), priority=1))

    async def lean_hit(i: int) -> object:
        return await lean_limit.hit("bench", "u", time.time())

    async def lean_publish(i: int) -> object:
        return await bus.publish_lean(lean, "bench", topic, body, durable=True)

    async def pipeline_hit(i: int) -> object:
        pipe = redis.pipeline(transaction=False)
        pipe.incr("bench:rate:old")
        pipe.expire("bench:rate:old", 3)
        return await pipe.execute()

    async def script_hit(i: int) -> object:
        return await limit.hit("bench", "u", time.time())

    sha = await redis.script_load(bus._PUBLISH_DURABLE_PLAIN)
    publish_args = (keys.stream("bench", topic), keys.channel("bench", topic), body, str(bus.STREAM_MAXLEN),
                    str(bus.STREAM_TTL_S))

    async def eval_publish(i: int) -> object:
        return await bus.publish_body(redis, "bench", topic, body, durable=True)

    async def evalsha_publish(i: int) -> object:
        return await redis.evalsha(sha, 2, *publish_args)

    cases = {"rate check: INCR+EXPIRE pipeline (before)": pipeline_hit,
             "rate check: one script call through redis-py": script_hit,
             "rate check: one script call, lean connection (now)": lean_hit,
             "durable publish: EVAL through redis-py (before)": eval_publish,
             "durable publish: EVALSHA through redis-py": evalsha_publish,
             "durable publish: EVALSHA, lean connection (now)": lean_publish}
    for call in cases.values():  # warm up: connections, script cache
        await timed(redis, 100, call)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, call in cases.items():
            results[name].append(await timed(redis, args.calls, call))
    for name, runs in results.items():
        print(json.dumps({"case": name, "hub_cpu_us": [round(c, 1) for c, _, _ in runs],
                          "redis_cpu_us": [round(r, 1) for _, r, _ in runs],
                          "wall_us": [round(w, 1) for _, _, w in runs]}))
    await redis.delete("bench:rate:old", keys.stream("bench", topic))
    lean.close()
    await redis.aclose()


if __name__ == "__main__":
    try:
        import uvloop  # the hub's loop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
