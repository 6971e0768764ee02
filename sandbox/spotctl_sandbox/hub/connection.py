"""One WebSocket connection from handshake to close: authenticate, register, read, dispatch.

Authentication takes the API's JWT from the `token` query parameter or from a first `auth` frame;
failures are audited and answered with an error frame and close code 1008. Every later frame is
rate-limited, schema-checked and handed to its feature's handler; recoverable problems produce an
error frame and the connection stays open.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
from limits import parse as parse_limit
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from spotctl_sandbox.common import tokens
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.protocol import CloseCode, ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Kind, Topic

from . import audit, metrics
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

    async def handle(self, ws: ServerConnection) -> None:
        assert isinstance(ws, HubConnection)  # serve(create_connection=HubConnection)
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        ns = query.get("ns", [keys.DEFAULT_NAMESPACE])[0]
        try:
            keys.check_namespace(ns)
        except ValueError as exc:
            await self._reject(ws, ErrorCode.BAD_ENVELOPE, str(exc))
            return
        claims = await self._authenticate(ws, ns, query.get("token", [None])[0])
        if claims is None:
            return
        cfg = self.hub.cfg
        conn = Conn(id=uuid.uuid4().hex[:16], ns=ns, user_id=claims.user_id, name=claims.name, ws=ws,
                    limiter=ConnectionLimiter.create(cfg.conn_rate, cfg.conn_burst, cfg.max_strikes),
                    connected_ms=protocol.now_ms(), resume_from=_resume_id(query))
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

    async def _authenticate(self, ws: ServerConnection, ns: str, token: str | None) -> tokens.Claims | None:
        peer = _peer(ws)
        if token is None:
            try:
                raw = await asyncio.wait_for(ws.recv(), self.hub.cfg.auth_timeout_s)
                first = INBOUND.parse(raw)
                if first.type != "auth":
                    raise ProtocolError(ErrorCode.UNAUTHORIZED, "first frame must be 'auth' (or pass ?token=)")
                token = first.content["token"]
            except TimeoutError:
                await audit.auth_failure(self.hub.redis, ns=ns, reason="no auth frame in time", peer=peer)
                await self._reject(ws, ErrorCode.UNAUTHORIZED, "authenticate within "
                                   f"{self.hub.cfg.auth_timeout_s:g} s: send an 'auth' frame")
                return None
            except ProtocolError as exc:
                await audit.auth_failure(self.hub.redis, ns=ns, reason=exc.message, peer=peer)
                await self._reject(ws, ErrorCode.UNAUTHORIZED, exc.message)
                return None
            except ConnectionClosed:
                return None
        try:
            claims = await tokens.verify(self.hub.redis, self.hub.cfg.settings.jwt_secret, token)
            tenants = token_namespaces(token)
            if tenants is not None and ns not in tenants:
                raise tokens.TokenError(f"token is not valid for namespace {ns!r}")
            return claims
        except tokens.TokenError as exc:
            await audit.auth_failure(self.hub.redis, ns=ns, reason=exc.reason, peer=peer)
            await self._reject(ws, ErrorCode.UNAUTHORIZED, exc.reason)
            return None
        except RedisError as exc:  # the session store did not answer: not the client's fault
            log.warning("Redis failed while authenticating %s: %s", peer, exc)
            await self._reject(ws, ErrorCode.UNAVAILABLE, "the hub could not check the session: reconnect later",
                               close_code=CloseCode.TRY_AGAIN)
            return None

    async def _reject(self, ws: ServerConnection, code: str, message: str,
                      close_code: int = CloseCode.POLICY) -> None:
        if code == ErrorCode.UNAUTHORIZED:
            metrics.AUTH_FAILURES.labels(metrics.WORKER).inc()
        metrics.error(code).inc()
        try:
            await ws.send(protocol.error_frame(code, message))
            await ws.close(close_code, f"{code}: {message}"[:120])
        except ConnectionClosed:
            pass

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
            message = MESSAGES[msg.type]
            result = await message.handler(Context(self.hub, conn, self.db), msg.content)
            if result is not None:
                conn.send(protocol.frame(message.reply, result, reply_to=request_id))
        except ProtocolError as exc:
            self._error(conn, exc.code, exc.message, exc.reply_to or request_id)
        except RedisError as exc:
            log.warning("Redis failed on a frame of connection %s: %s", conn.id, exc)
            self._error(conn, ErrorCode.UNAVAILABLE, "the hub's message bus did not answer: retry", request_id)
        except Exception:
            log.exception("handler failed")
            self._error(conn, ErrorCode.INTERNAL, "internal error while handling this message", request_id)

    async def _allowed(self, conn: Conn, request_id: str | None) -> bool:
        """The per-connection bucket (local), then the per-user limit (Redis, across workers)."""
        verdict = conn.limiter.check(time.monotonic())
        if verdict is Verdict.ALLOW and not await self.user_limiter.hit(self.user_limit, conn.ns, conn.user_id):
            verdict = conn.limiter.guard.strike(time.monotonic())
            metrics.RATE_LIMITED.labels(metrics.WORKER, "user").inc()
        elif verdict is not Verdict.ALLOW:
            metrics.RATE_LIMITED.labels(metrics.WORKER, "connection").inc()
        if verdict is Verdict.ALLOW:
            return True
        self._error(conn, ErrorCode.RATE_LIMITED, "too many messages: slow down", request_id)
        if verdict is Verdict.CLOSE:
            conn.close_soon(CloseCode.POLICY, "rate limit abuse")
        return False

    def _error(self, conn: Conn, code: str, message: str, reply_to: str | None = None) -> None:
        metrics.error(code).inc()
        conn.send(protocol.error_frame(code, message, reply_to))


def token_namespaces(token: str) -> set[str] | None:
    """The tenants a token is limited to (its optional `ns` claim, a string or a list); None = any.

    Read after `tokens.verify` checked the signature, so the payload is trusted here.
    """
    claim = jwt.decode(token, options={"verify_signature": False}).get("ns")
    if claim is None:
        return None
    return {claim} if isinstance(claim, str) else {str(c) for c in claim}


def _resume_id(query: dict[str, list[str]]) -> str | None:
    last = query.get("last_id", [None])[0]
    return last if last and keys.is_stream_id(last) else None


def _peer(ws: ServerConnection) -> str:
    forwarded = ws.request.headers.get("X-Forwarded-For") if ws.request else None
    if forwarded:
        return forwarded.split(",")[0].strip()
    addr = ws.remote_address
    return f"{addr[0]}:{addr[1]}" if addr else "?"
