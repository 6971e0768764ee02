"""What a message handler gets: the worker's hub, the sender's connection and the database (if any)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..hub import Conn, Hub
from ..protocol.envelope import ErrorCode, ProtocolError
from ..store import Database


@dataclass(frozen=True)
class Context:
    hub: Hub
    conn: Conn
    db: Database | None

    @property
    def redis(self) -> Any:
        return self.hub.redis

    def database(self) -> Database:
        if self.db is None or not self.db.available:
            raise ProtocolError(ErrorCode.UNAVAILABLE, "this feature needs PostgreSQL, which is not reachable")
        return self.db


Handler = Callable[[Context, dict[str, Any]], Awaitable[Any]]
