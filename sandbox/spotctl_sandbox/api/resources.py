"""Everything a request may touch, created once per process in the app's lifespan.

Nothing here blocks start-up on a dependency: the PostgreSQL pool opens in the background, the
schema is applied by a task that retries with backoff until PostgreSQL answers, and the Kafka and
RabbitMQ clients connect on first use.
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
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from spotctl_sandbox import contract
from spotctl_sandbox.api import roles
from spotctl_sandbox.api.config import ApiConfig
from spotctl_sandbox.api.rabbit import RabbitClient
from spotctl_sandbox.api.ratelimit import RateLimits
from spotctl_sandbox.db import amigrate
from spotctl_sandbox.events.kafka import EventProducer
from spotctl_sandbox.playlists import PlaylistRepository, PostgresDirectory, open_repository
from spotctl_sandbox.seed.audio import AudioFile, ensure_audio

log = logging.getLogger(__name__)

# Retried for 63.5 s (contract.RETRY_ATTEMPTS, exponential from 0.5 s): a PostgreSQL or Redis restart of
# ~30 s must not exhaust them, or an acknowledged play never reaches recent:<user>.
JOB_OPTIONS = contract.job_options()


@dataclass
class Resources:
    config: ApiConfig
    redis: Redis
    pool: AsyncConnectionPool
    kafka: EventProducer
    rabbit: RabbitClient
    limits: RateLimits
    playlists: PlaylistRepository
    media: list[AudioFile]
    queues: dict[str, Queue] = field(default_factory=dict)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    schema_ready: asyncio.Event = field(default_factory=asyncio.Event)
    directory: PostgresDirectory | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            self.queues[name] = Queue(name, {"connection": self.redis})
        return self.queues[name]

    async def enqueue(self, queue: str, job_name: str, data: dict[str, Any]) -> str:
        job = await self.queue(queue).add(job_name, data, JOB_OPTIONS)
        return str(job.id)

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
    redis = Redis.from_url(s.redis_url, decode_responses=True, socket_connect_timeout=1,
                           socket_timeout=timeout, health_check_interval=10,
                           retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
    # reconnect_timeout: psycopg_pool's backoff doubles up to this bound (default 5 min, so a long
    # outage could leave minutes between attempts); after it the pool reconnects on demand instead
    pool = AsyncConnectionPool(s.database_url, min_size=2, max_size=10, timeout=timeout, open=False,
                               kwargs={"autocommit": True, "connect_timeout": 2},
                               check=AsyncConnectionPool.check_connection, reconnect_timeout=10)
    await pool.open(wait=False)
    res = Resources(
        config=config, redis=redis, pool=pool,
        kafka=EventProducer(s.kafka_bootstrap_servers, client_id="spotctl-api", timeout_s=timeout),
        rabbit=RabbitClient(s.amqp_url, connect_budget_s=timeout, rpc_timeout_s=config.rpc_timeout_s),
        limits=RateLimits(s.redis_url, config.rate_limit_ip, config.rate_limit_user),
        playlists=await open_repository(s.mongo_url, pool),
        media=await asyncio.to_thread(ensure_audio, s.media_dir),
        directory=PostgresDirectory(pool),
    )
    res._tasks.append(asyncio.create_task(res._migrate_until_done(), name="migrate"))
    return res
