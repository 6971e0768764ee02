"""What a message handler gets: the worker's hub, the sender's connection and the database (if any)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from ..conn import Conn
from ..node import Hub
from ..store import Database


@dataclass(frozen=True)
class Context:
    hub: Hub
    conn: Conn
    db: Database | None

    @property
    def redis(self) -> aioredis.Redis:
        return self.hub.redis

    def database(self) -> Database:
        if self.db is None or not self.db.available:
            raise ProtocolError(ErrorCode.UNAVAILABLE, "this feature needs PostgreSQL, which is not reachable")
        return self.db

    async def publish(self, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, echo: bool = True) -> str:
        """Publish in the sender's namespace; `echo=False` leaves the sending connection out."""
        return await self.hub.publish(self.conn.ns, topic, kind, content, durable=durable, priority=priority,
                                      origin=None if echo else self.conn.id)

    def joined(self, topic: Topic) -> bool:
        return topic in self.conn.topics
