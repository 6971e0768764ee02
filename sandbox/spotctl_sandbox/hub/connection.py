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

from limits import parse as parse_limit
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from spotctl_sandbox.common.tokens import Role
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.protocol import CloseCode, ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Kind, Topic

from . import audit, metrics
from .auth import Authenticator, display_name, reject
from .conn import Conn, HubConnection
from .core.inbound import Inbound, Incoming
from .core.presence import Presence
from .core.ratelimit import ConnectionLimiter, Verdict
from .features import MESSAGES, chat
from .features.context import Context
from .node import Hub
from .store import Database

log = logging.getLogger("spotctl_sandbox.hub")

INBOUND = Inbound({kind: message.schema for kind, message in MESSAGES.items()})


class Server:
    """The per-worker WebSocket handler bound to the hub, database and user rate limiter."""

    def __init__(self, hub: Hub, db: Database | None, user_limiter: FixedWindowRateLimiter) -> None:
        self.hub, self.db, self.user_limiter = hub, db, user_limiter
        self.user_limit = parse_limit(hub.cfg.user_rate)
        self.auth = Authenticator(hub, INBOUND)

    async def handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, HubConnection)  # serve(create_connection=HubConnection)
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        ns = query.get("ns", [keys.DEFAULT_NAMESPACE])[0]
        try:
            keys.check_namespace(ns)
        except ValueError as exc:
            await reject(ws, ErrorCode.BAD_ENVELOPE, str(exc))
            return
        claims = await self.auth.authenticate(ws, ns, query.get("token", [None])[0])
        if claims is None:
            return
        cfg = self.hub.cfg
        conn = Conn(id=uuid.uuid4().hex[:16], ns=ns, user_id=claims.user_id, name=display_name(claims.name),
                    ws=ws, limiter=ConnectionLimiter.create(cfg.conn_rate, cfg.conn_burst, cfg.max_strikes),
                    connected_ms=protocol.now_ms(), resume_from=_resume_id(query),
                    admin=Role.ADMIN in claims.roles)
        try:
            await self.hub.register(conn)
            conn.send(protocol.frame("welcome", {
                "conn_id": conn.id, "user_id": conn.user_id, "name": conn.name, "namespace": ns,
                "worker": self.hub.worker, "heartbeat_interval": cfg.settings.ws_heartbeat_interval,
                "max_frame_bytes": cfg.max_frame_bytes, "resumed_from": conn.resume_from}))
            await self.hub.replay(conn, Topic.user(conn.user_id))
            await self.hub.deliver_pending(conn)
            async for raw in ws:
                await self._on_frame(conn, raw)
        except ConnectionClosed:
            pass
        except RedisError as exc:  # no bus while registering: tell the client to come back later
            log.warning("Redis failed registering connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "the hub lost its message bus: reconnect later")
            conn.close_soon(CloseCode.TRY_AGAIN, "message bus unavailable: reconnect later")
        finally:
            await self._cleanup(conn)

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
        """Rate-limit, validate and dispatch one client frame.

        A Redis hiccup fails this frame, never the connection: the client gets an `unavailable`
        error it can retry (closing healthy sockets over a slow bus turns a stall into a reconnect
        storm)."""
        msg: Incoming | ProtocolError
        try:
            msg = INBOUND.parse(raw)
        except ProtocolError as exc:
            msg = exc
        request_id = msg.request_id if isinstance(msg, Incoming) else msg.reply_to
        try:
            if not await self._allowed(conn, request_id):
                return
            if isinstance(msg, ProtocolError):
                raise msg
            metrics.msg_in(msg.type).inc()
            self.hub.activity.message(conn.ns, msg.type)
            message = MESSAGES[msg.type]
            result = await message.handler(Context(self.hub, conn, self.db), msg.content)
            if result is not None:
                conn.send(protocol.frame(message.reply, result, reply_to=request_id))
        except ProtocolError as exc:
            self._error(conn, exc.code, exc.message, exc.reply_to or request_id, **exc.extra)
            if exc.code == ErrorCode.FORBIDDEN and isinstance(msg, Incoming) and not exc.audited:
                await audit.denied(self.hub.redis, ns=conn.ns, user_id=conn.user_id, kind=msg.type,
                                   reason=exc.message)
        except RedisError as exc:
            log.warning("Redis failed on a frame of connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "the hub's message bus did not answer: retry", request_id)
        except Exception:
            log.exception("handler failed")
            self._error(conn, ErrorCode.INTERNAL, "internal error while handling this message", request_id)

    async def _allowed(self, conn: Conn, request_id: str | None) -> bool:
        """The per-connection bucket (local), then the per-user limit (Redis, across workers).

        A refused frame gets `rate_limited` with `retry_after_ms`; a client that keeps going is closed
        with 1013 (come back later), after the same error saying when."""
        now = time.monotonic()
        verdict = conn.limiter.check(now)
        retry_s = conn.limiter.bucket.wait_s()
        if verdict is Verdict.ALLOW and not await self.user_limiter.hit(self.user_limit, conn.ns, conn.user_id):
            verdict = conn.limiter.guard.strike(now)
            stats = await self.user_limiter.get_window_stats(self.user_limit, conn.ns, conn.user_id)
            retry_s = max(0.0, stats.reset_time - time.time())
            metrics.RATE_LIMITED.labels(metrics.WORKER, "user").inc()
        elif verdict is not Verdict.ALLOW:
            metrics.RATE_LIMITED.labels(metrics.WORKER, "connection").inc()
        if verdict is Verdict.ALLOW:
            return True
        if verdict is Verdict.CLOSE:
            retry_s = conn.limiter.guard.cooldown_s(now)
        self._error(conn, ErrorCode.RATE_LIMITED, "too many messages: slow down", request_id,
                    retry_after_ms=max(1, round(retry_s * 1000)))
        if verdict is Verdict.CLOSE:
            conn.close_soon(CloseCode.TRY_AGAIN, f"rate limit abuse: come back in {retry_s:.0f} s")
        return False

    def _error(self, conn: Conn, code: str, message: str, reply_to: str | None = None, **extra: object) -> None:
        metrics.error(code).inc()
        self.hub.activity.error(conn.ns)
        conn.send(protocol.error_frame(code, message, reply_to, **extra))


def _resume_id(query: dict[str, list[str]]) -> str | None:
    last = query.get("last_id", [None])[0]
    return last if last and keys.is_stream_id(last) else None
