"""One WebSocket connection from handshake to close: authenticate, register, read, dispatch.

Authentication (auth.py) takes the API's JWT from the `token` query parameter or from a first
`auth` frame. Every later frame is rate-limited, schema-checked and handed to its feature's handler;
recoverable problems produce an error frame and the connection stays open.
"""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import psycopg
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from spotctl_sandbox.common.tokens import Role
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.protocol import CloseCode, ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Kind, Topic

from . import audit, metrics
from .auth import Authenticator, display_name, reject
from .conn import Conn, HubConnection
from .core.breaker import Breaker
from .core.inbound import Inbound, Incoming
from .core.presence import Presence
from .core.ratelimit import ConnectionLimiter, Verdict
from .features import MESSAGES, chat
from .features.context import Context
from .node import OVER_CAP, Hub
from .store import Database
from .userlimit import UserLimit

log = logging.getLogger("spotctl_sandbox.hub")

INBOUND = Inbound({kind: message.schema for kind, message in MESSAGES.items()})
LOCAL = frozenset({"ping", "time_sync"})  # answered without Redis: never failed by its breaker
OUTAGE = (RedisConnectionError, RedisTimeoutError)  # not an answer (a script's error is one)


class Server:
    """The per-worker WebSocket handler bound to the hub, database and user rate limiter."""

    def __init__(self, hub: Hub, db: Database | None, user_limit: UserLimit) -> None:
        self.hub, self.db, self.user_limit = hub, db, user_limit
        self.auth = Authenticator(hub, INBOUND)
        self.bus = Breaker("redis")  # one per worker: a stall is felt by all its connections alike

    async def handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, HubConnection)  # serve(create_connection=HubConnection)
        conn = await self._admit(ws)
        if conn is None:
            return
        cfg = self.hub.cfg
        try:
            if not await self.hub.register(conn):
                self._error(conn, ErrorCode.TOO_MANY_CONNECTIONS, OVER_CAP)
                conn.close_soon(CloseCode.POLICY, OVER_CAP)
                return
            conn.send(protocol.frame("welcome", {
                "conn_id": conn.id, "user_id": conn.user_id, "name": conn.name, "namespace": conn.ns,
                "worker": self.hub.worker, "heartbeat_interval": cfg.settings.ws_heartbeat_interval,
                "max_frame_bytes": cfg.max_frame_bytes, "resumed_from": conn.resume_from}))
            await self.hub.replay(conn, Topic.user(conn.user_id))
            await self.hub.deliver_pending(conn)
            while True:  # not `async for`: its async generator is ~500 B more per idle connection
                await self._on_frame(conn, await ws.recv())
        except ConnectionClosed:
            pass
        except RedisError as exc:  # no bus while registering: tell the client to come back later
            log.warning("Redis failed registering connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "the hub lost its message bus: reconnect later")
            conn.close_soon(CloseCode.TRY_AGAIN, "message bus unavailable: reconnect later")
        finally:
            await self._cleanup(conn)

    async def _admit(self, ws: HubConnection) -> Conn | None:
        """Check the namespace and the token: the connection's `Conn`, or None once refused (and closed).

        A coroutine of its own so that the query, the token and its claims die with it, and the
        handshake's request and response are dropped here (nothing reads them later): ~4.5 KB a
        connection that `handle` would otherwise hold for the connection's whole life (issue 18)."""
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        ns = query.get("ns", [keys.DEFAULT_NAMESPACE])[0]
        try:
            keys.check_namespace(ns)
        except ValueError as exc:
            await reject(ws, ErrorCode.BAD_ENVELOPE, str(exc))
            return None
        in_query = query.get("token", [None])[0]
        claims = await self.auth.authenticate(ws, ns, in_query)
        if claims is None:
            return None
        ws.forget_handshake()
        cfg = self.hub.cfg
        # its place among the user's connections: when it asked to be let in (the handshake carried the
        # token, or the auth frame came), not when this worker got round to checking it
        connected_ms = ws.opened_ms if in_query is not None else protocol.now_ms()
        return Conn(id=uuid.uuid4().hex[:16], ns=ns, user_id=claims.user_id, name=display_name(claims.name),
                    ws=ws, limiter=ConnectionLimiter.create(cfg.conn_rate, cfg.conn_burst, cfg.max_strikes),
                    connected_ms=connected_ms, resume_from=_resume_id(query),
                    admin=Role.ADMIN in claims.roles)

    async def _cleanup(self, conn: Conn) -> None:
        """Forget the connection; announce 'offline' in its chat channels if it was the user's last."""
        chats = [t for t in conn.topics if t.kind is Kind.CHAT]
        try:
            await self.hub.unregister(conn)
            if chats and await self.hub.presence.of(conn.ns, conn.user_id) is Presence.OFFLINE:
                await chat.announce(self.hub, conn, Presence.OFFLINE, chats)
        except RedisError as exc:
            log.warning("cleanup of connection %s incomplete: %s", conn.id, exc)

    async def _on_frame(self, conn: Conn, raw: str | bytes) -> None:
        """Rate-limit (on the frame's arrival time), validate and dispatch one client frame.

        A dependency that does not answer within its bound fails this frame, never the connection:
        the client gets `unavailable` naming it and may retry (closing healthy sockets over a slow
        bus turns a stall into a reconnect storm). While a dependency's breaker is open, frames that
        need it fail at once, so a backlog drains instead of waiting out one bound per frame."""
        arrived = conn.ws.arrived()
        msg: Incoming | ProtocolError
        try:
            msg = INBOUND.parse(raw)
        except ProtocolError as exc:
            msg = exc
        request_id = msg.request_id if isinstance(msg, Incoming) else msg.reply_to
        try:
            if not await self._allowed(conn, request_id, arrived):
                return
            if isinstance(msg, ProtocolError):
                raise msg
            await self._handle(conn, msg)
        except ProtocolError as exc:
            self._error(conn, exc.code, exc.message, exc.reply_to or request_id, **exc.extra)
            if exc.code == ErrorCode.FORBIDDEN and isinstance(msg, Incoming) and not exc.audited:
                await audit.denied(self.hub.redis, ns=conn.ns, user_id=conn.user_id, kind=msg.type,
                                   reason=exc.message)
        except RedisError as exc:
            if isinstance(exc, OUTAGE):
                self.bus.failed(time.monotonic())
            log.warning("Redis failed on a frame of connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "the hub's message bus (Redis) did not answer: retry",
                        request_id, dependency="redis")
        except psycopg.OperationalError as exc:  # down, frozen past the bound, or no connection free
            if self.db is not None:
                self.db.breaker.failed(time.monotonic())
            log.warning("PostgreSQL failed on a frame of connection %s: %s (pool %s)", conn.id, exc,
                        self.db.pool.get_stats() if self.db is not None else "-")
            self._error(conn, ErrorCode.UNAVAILABLE, "PostgreSQL did not answer: retry", request_id,
                        dependency="postgres")
        except ConnectionFailure as exc:  # MongoDB (the playlists' store): no server, or none answered in time
            if self.db is not None:
                self.db.mongo.failed(time.monotonic())
            log.warning("MongoDB failed on a frame of connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "MongoDB (the playlists' store) did not answer: retry",
                        request_id, dependency="mongodb")
        except Exception:
            log.exception("handler failed")
            self._error(conn, ErrorCode.INTERNAL, "internal error while handling this message", request_id)

    async def _handle(self, conn: Conn, msg: Incoming) -> None:
        metrics.msg_in(msg.type).inc()
        self.hub.activity.message(conn.ns, msg.type)
        message = MESSAGES[msg.type]
        needs_bus = msg.type not in LOCAL
        if needs_bus and not self.bus.allow(time.monotonic()):
            raise _unavailable("redis")
        ctx = Context(self.hub, conn, self.db)
        result = await message.handler(ctx, msg.content)
        if needs_bus:
            self.bus.succeeded()
        if ctx.used_db and self.db is not None:
            self.db.breaker.succeeded()
        if ctx.used_mongo and self.db is not None:
            self.db.mongo.succeeded()
        if result is not None:
            conn.send(protocol.frame(message.reply, result, reply_to=msg.request_id))

    async def _allowed(self, conn: Conn, request_id: str | None, arrived: float) -> bool:
        """The per-connection bucket (local), then the per-user limit (Redis, across workers), both
        judged at the frame's arrival (monotonic `arrived`): a backlog a stall built up is not a burst.

        A refused frame gets `rate_limited` with `retry_after_ms`; a client that keeps going is closed
        with 1013 (come back later), after the same error saying when. While Redis does not answer,
        the per-user check is skipped (fails open; the per-connection bucket still holds)."""
        verdict = conn.limiter.check(arrived)
        retry_s = conn.limiter.bucket.wait_s()
        if verdict is Verdict.ALLOW and self.bus.closed:
            try:
                wait = await self.user_limit.hit(conn.ns, conn.user_id, time.time() - (time.monotonic() - arrived))
            except OUTAGE as exc:
                log.warning("per-user rate check skipped: Redis did not answer (%s)", exc)
                self.bus.failed(time.monotonic())
                wait = None
            if wait is not None:
                verdict = conn.limiter.guard.strike(arrived)
                retry_s = wait
                metrics.RATE_LIMITED.labels(metrics.WORKER, "user").inc()
        elif verdict is not Verdict.ALLOW:
            metrics.RATE_LIMITED.labels(metrics.WORKER, "connection").inc()
        if verdict is Verdict.ALLOW:
            return True
        if verdict is Verdict.CLOSE:
            retry_s = conn.limiter.guard.cooldown_s(arrived)
        self._error(conn, ErrorCode.RATE_LIMITED, "too many messages: slow down", request_id,
                    retry_after_ms=max(1, round(retry_s * 1000)))
        if verdict is Verdict.CLOSE:
            conn.close_soon(CloseCode.TRY_AGAIN, f"rate limit abuse: come back in {retry_s:.0f} s")
        return False

    def _error(self, conn: Conn, code: str, message: str, reply_to: str | None = None, **extra: object) -> None:
        metrics.error(code).inc()
        self.hub.activity.error(conn.ns)
        conn.send(protocol.error_frame(code, message, reply_to, **extra))


def _unavailable(dependency: str) -> ProtocolError:
    return ProtocolError(ErrorCode.UNAVAILABLE, f"{_NAMES[dependency]} is not answering: retry",
                         extra={"dependency": dependency})


_NAMES = {"redis": "the hub's message bus (Redis)", "postgres": "PostgreSQL"}


def _resume_id(query: dict[str, list[str]]) -> str | None:
    last = query.get("last_id", [None])[0]
    return last if last and keys.is_stream_id(last) else None
