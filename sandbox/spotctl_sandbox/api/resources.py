"""Everything a request may touch, created once per process in the app's lifespan.

Nothing here blocks start-up on a dependency: the PostgreSQL pool opens in the background, the
schema is applied by a task that retries with backoff until PostgreSQL answers, and the Kafka and
RabbitMQ clients connect on first use. Every call to a store or broker is bounded by
API_DEPENDENCY_TIMEOUT_S (1.5 s): Redis socket and connect timeouts with no retry of a timeout,
PostgreSQL through bounded connections (spotctl_sandbox.db.bounded), Kafka and RabbitMQ by their
clients' own bounds. Writes publish through the outbox relay, started here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from argon2 import PasswordHasher
from bullmq import Queue
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from spotctl_sandbox import contract
from spotctl_sandbox.api import roles
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.api.rabbit import RabbitClient
from spotctl_sandbox.api.ratelimit import RateLimits
from spotctl_sandbox.api.relay import Relay, Sink
from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.health import HealthChecks
from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.db import amigrate
from spotctl_sandbox.db.bounded import open_pool
from spotctl_sandbox.events.kafka import EventProducer
from spotctl_sandbox.events.outbox import Channel, Message
from spotctl_sandbox.playlists import PlaylistRepository, PostgresDirectory, open_repository
from spotctl_sandbox.seed.audio import AudioFile, ensure_audio

log = logging.getLogger(__name__)

# Retried for 63.5 s (contract.RETRY_ATTEMPTS, exponential from 0.5 s): a PostgreSQL or Redis restart of
# ~30 s must not exhaust them, or an acknowledged play never reaches recent:<user>.
JOB_OPTIONS = contract.job_options()


@dataclass
class Resources:
    config: ApiConfig
    redis: AsyncAnyRedis
    pool: AsyncConnectionPool[Any]
    kafka: EventProducer
    rabbit: RabbitClient
    limits: RateLimits
    playlists: PlaylistRepository
    media: list[AudioFile]
    queues: dict[str, Queue] = field(default_factory=dict)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    schema_ready: asyncio.Event = field(default_factory=asyncio.Event)
    directory: PostgresDirectory | None = None
    relay: Relay = field(init=False)
    health: HealthChecks | None = None  # built on the first GET /health (api/health.py)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            self.queues[name] = Queue(name, {"connection": self.redis,
                                             "prefix": contract.bull_prefix(isinstance(self.redis, RedisCluster))})
        return self.queues[name]

    def sinks(self) -> dict[Channel, Sink]:
        """Where the outbox relay publishes each channel's messages."""

        async def kafka(messages: list[Message]) -> None:
            await self.kafka.send_many([(m.target, m.payload, m.routing) for m in messages])

        async def rabbitmq(messages: list[Message]) -> None:
            for m in messages:
                await self.rabbit.publish(m.target, m.payload, m.id, m.routing or "")

        async def bullmq(messages: list[Message]) -> None:
            for queue in dict.fromkeys(m.target for m in messages):  # one pipelined addBulk per queue
                await redisconn.add_jobs(self.queue(queue), [{"name": m.name or "", "data": m.payload,
                                                              "opts": {**m.options, "jobId": m.id}}
                                                             for m in messages if m.target == queue],
                                         isinstance(self.redis, RedisCluster))

        return {Channel.KAFKA: kafka, Channel.RABBITMQ: rabbitmq, Channel.BULLMQ: bullmq}

    async def _migrate_until_done(self) -> None:
        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=2),
                                           retry=retry_if_exception_type(psycopg.Error)):
            with attempt:
                async with await psycopg.AsyncConnection.connect(self.config.settings.database_url,
                                                                 connect_timeout=3, autocommit=True) as conn:
                    await amigrate(conn)
                    if self.config.admin_email and self.config.admin_password:
                        await roles.ensure_admin(conn, self.hasher, self.config.admin_email,
                                                 self.config.admin_password)
        self.schema_ready.set()
        log.info("database schema is up to date")

    async def _relay_when_ready(self) -> None:
        await self.schema_ready.wait()  # the outbox table comes with the schema
        await self.relay.run()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.kafka.close()
        await self.rabbit.close()
        await self.playlists.close()
        await self.pool.close()
        await self.redis.aclose()


async def open_resources(config: ApiConfig) -> Resources:
    s = config.settings
    timeout = config.dependency_timeout_s
    # one retry, for a connection that died with a restarted Redis; a timeout is not retried (a
    # frozen Redis would cost three timeouts per call)
    redis = redisconn.connect_async(s.cluster_or_redis_url, decode_responses=True, socket_connect_timeout=timeout,
                                    socket_timeout=timeout, health_check_interval=10,
                                    retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1,
                                                supported_errors=(RedisConnectionError,)))
    pool = open_pool(s.database_url, answer_within_s=timeout, min_size=2, max_size=10, name="api")
    await pool.open(wait=False)
    res = Resources(
        config=config, redis=redis, pool=pool,
        kafka=EventProducer(s.kafka_bootstrap_servers, client_id="spotctl-api", timeout_s=timeout),
        rabbit=RabbitClient(s.amqp_url, connect_budget_s=timeout, rpc_timeout_s=config.rpc_timeout_s),
        limits=RateLimits(s.cluster_or_redis_url, config.rate_limit_ip, config.rate_limit_user, timeout_s=timeout),
        playlists=await open_repository(s.mongo_url, pool),
        media=await asyncio.to_thread(ensure_audio, s.media_dir),
        directory=PostgresDirectory(pool),
    )
    res.relay = Relay(pool, res.sinks())
    res._tasks.append(asyncio.create_task(res._migrate_until_done(), name="migrate"))
    res._tasks.append(asyncio.create_task(res._relay_when_ready(), name="outbox-relay"))
    return res
