"""The lean Redis connection under the hub's per-message commands (common/leanredis.py): answers in
order for concurrent callers, a script Redis has not cached falls back to EVAL, a frozen Redis fails
calls within the bound with redis-py's TimeoutError, a dead one with ConnectionError, and the next
call after either connects again. A throwaway Redis of the test's own, so the session stack is never
frozen or stopped."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from spotctl_sandbox.common.leanredis import LeanRedis, beside
from spotctl_sandbox.hub.userlimit import UserLimit
from spotctl_sandbox.realtime import bus, keys
from spotctl_sandbox.realtime.topics import Topic
from tests.support.throwaway import Throwaway

from .conftest import answering

pytestmark = pytest.mark.stack


async def ready(port: int) -> aioredis.Redis:
    return await answering(aioredis.from_url(f"redis://127.0.0.1:{port}/3"))


async def test_concurrent_calls_get_their_own_answers_and_scripts_load_themselves(
        lone_redis: tuple[Throwaway, int]) -> None:
    _, port = lone_redis
    client = await ready(port)
    lean = beside(client, 1.0)
    assert lean is not None and lean.db == 3
    answers = await asyncio.gather(*(lean.call("INCRBY", "n", i) for i in range(1, 51)),
                                   lean.call("GET", "n"))
    assert answers[:50] == sorted(answers[:50]) and answers[49] == sum(range(1, 51))
    assert await client.get("n") == str(sum(range(1, 51))).encode()  # the same database as redis-py's
    with pytest.raises(NoScriptError):
        await lean.call("EVALSHA", "0" * 40, 0)
    with pytest.raises(ResponseError):
        await lean.call("INCR")  # wrong number of arguments: an answer, the connection stays
    limit = UserLimit(client, "2/second", lean)  # its script is not cached: EVALSHA, then EVAL
    now = time.time()
    assert [await limit.hit("ns", "u", now) for _ in range(3)][:2] == [None, None]
    topic = Topic.room("r")
    frame_id = await bus.publish(client, "ns", topic, "room_message", {"x": 1}, durable=True, lean=lean)
    assert [fid for fid, _ in await bus.stream_after(client, keys.stream("ns", topic), "0-0")] == [frame_id]
    lean.close()
    refused = LeanRedis("127.0.0.1", port, password="not-set-on-this-redis")
    with pytest.raises(ResponseError):  # AUTH refused: the call fails and no connection is kept
        await refused.call("PING")
    assert refused._wire is None
    await client.aclose()


async def test_a_frozen_redis_fails_within_the_bound_and_a_dead_one_at_once_then_calls_recover(
        lone_redis: tuple[Throwaway, int]) -> None:
    server, port = lone_redis
    client = await ready(port)
    lean = LeanRedis("127.0.0.1", port, timeout_s=0.5)
    assert await lean.call("PING") == b"PONG"
    server.freeze()
    started = time.monotonic()
    with pytest.raises(RedisTimeoutError):
        await asyncio.gather(lean.call("PING"), lean.call("PING"))
    assert time.monotonic() - started < 1.5
    server.thaw()
    assert await lean.call("PING") == b"PONG"  # a new connection: no late answer to the old calls
    server.stop()
    with pytest.raises(RedisConnectionError):
        await lean.call("PING")
    server.start()
    await ready(port)
    assert await lean.call("PING") == b"PONG"
    lean.close()
    await client.aclose()


async def test_the_commands_of_one_tick_reach_redis_in_one_write(lone_redis: tuple[Throwaway, int]) -> None:
    """Redis counts the reads it makes (INFO stats): 50 concurrent calls cost it one or two, not 50."""
    _, port = lone_redis
    client = await ready(port)
    lean = LeanRedis("127.0.0.1", port)
    assert await lean.call("PING") == b"PONG"  # connected
    before = (await client.info("stats"))["total_reads_processed"]
    answers = await asyncio.gather(*(lean.call("INCR", "k") for _ in range(50)))
    reads = (await client.info("stats"))["total_reads_processed"] - before
    assert answers == list(range(1, 51))
    assert reads <= 4, f"{reads} reads for 50 commands of one tick"  # the INFO call itself is one of them
    lean.close()
    await client.aclose()
