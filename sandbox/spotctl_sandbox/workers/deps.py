"""The connections every worker shares, opened lazily so the process starts with stores down.

redis-py reconnects per command and the psycopg pool replaces broken connections, so a store that
comes back is used again without a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import bullmq
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox import contract
from spotctl_sandbox.common import redisconn
from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.db import amigrate
from spotctl_sandbox.workers.config import WorkerConfig
from spotctl_sandbox.workers.state import Health


@dataclass
class Deps:
    config: WorkerConfig
    health: Health
    redis: AsyncAnyRedis
    pg: AsyncConnectionPool
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _queues: dict[str, bullmq.Queue] = field(default_factory=dict)

    @classmethod
    def create(cls, config: WorkerConfig, health: Health) -> Deps:
        settings = config.settings
        return cls(
            config=config,
            health=health,
            redis=redisconn.connect_async(settings.cluster_or_redis_url, decode_responses=True,
                                          socket_connect_timeout=3, health_check_interval=15),
            # check: a connection PostgreSQL dropped (a restart) is replaced before a job gets it;
            # a job with few attempts left would otherwise fail on it for good
            pg=AsyncConnectionPool(settings.database_url, min_size=1, max_size=6, open=False, timeout=5,
                                   kwargs={"autocommit": True, "connect_timeout": 5}, reconnect_timeout=0,
                                   check=AsyncConnectionPool.check_connection),
        )

    def bull_options(self, **more: Any) -> dict[str, Any]:
        """BullMQ's connection: the URL for a single Redis (BullMQ's own client, as before); on a
        cluster a cluster client of its own and the hash-tagged prefix (contract.bull_prefix)."""
        url = self.config.settings.cluster_or_redis_url
        if not redisconn.is_cluster_url(url):
            return {"connection": url, **more}
        return {"connection": redisconn.connect_async(url, decode_responses=True),
                "prefix": contract.bull_prefix(True), **more}

    def queue(self, name: str) -> bullmq.Queue:
        """A BullMQ producer handle for `name` (one per queue, shared)."""
        if name not in self._queues:
            self._queues[name] = bullmq.Queue(name, self.bull_options())
        return self._queues[name]

    async def open(self) -> None:
        await self.pg.open(wait=False)

    async def migrate(self) -> None:
        """The API's schema (shared tables) and then the workers' own tables."""
        own = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
        async with self.pg.connection() as conn:
            await amigrate(conn)
            await conn.execute(own.encode())

    async def close(self) -> None:
        for queue in self._queues.values():
            await queue.close()
        await self.pg.close()
        await self.redis.aclose()

