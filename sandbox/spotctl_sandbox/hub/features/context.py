"""What a message handler gets: the worker's hub, the sender's connection and the database (if any)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from spotctl_sandbox.common.redisconn import AsyncAnyRedis
from spotctl_sandbox.playlists import Backend, PlaylistRepository
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from ..conn import Conn
from ..node import Hub
from ..store import Database


@dataclass(slots=True)
class Context:
    hub: Hub
    conn: Conn
    db: Database | None
    used_db: bool = False  # this frame reached PostgreSQL (its success closes the database's breaker)
    used_mongo: bool = False  # this frame reached MongoDB (the same for MongoDB's breaker)

    @property
    def redis(self) -> AsyncAnyRedis:
        return self.hub.redis

    def database(self) -> Database:
        """The database, unless it is known to be away (not reached yet, or its breaker is open:
        it failed a frame moments ago), in which case the frame fails at once, naming it."""
        if self.db is None or not self.db.available or not (self.used_db or self.db.breaker.allow(time.monotonic())):
            raise ProtocolError(ErrorCode.UNAVAILABLE, "this feature needs PostgreSQL, which is not answering: "
                                "retry", extra={"dependency": "postgres"})
        self.used_db = True
        return self.db

    def playlists(self) -> PlaylistRepository:
        """The API's playlists' store, unless it is away: PostgreSQL is (see `database`), the store is not
        found yet, or it is MongoDB and MongoDB failed a frame moments ago (its breaker is open)."""
        db = self.database()
        if db.playlists is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, "the playlists' store is not reachable yet: retry")
        if db.playlists.backend is Backend.MONGODB:
            if not (self.used_mongo or db.mongo.allow(time.monotonic())):
                raise ProtocolError(ErrorCode.UNAVAILABLE, "the playlists' store (MongoDB) is not answering: "
                                    "retry", extra={"dependency": "mongodb"})
            self.used_mongo = True
        return db.playlists

    async def publish(self, topic: Topic, kind: str, content: object, *, durable: bool = False,
                      priority: int | None = None, echo: bool = True) -> str:
        """Publish in the sender's namespace; `echo=False` leaves the sending connection out."""
        return await self.hub.publish(self.conn.ns, topic, kind, content, durable=durable, priority=priority,
                                      origin=None if echo else self.conn.id)

    def joined(self, topic: Topic) -> bool:
        return topic in self.conn.topics
