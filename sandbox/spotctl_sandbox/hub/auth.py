"""Who is connecting: the API's JWT from `?token=` or a first `auth` frame, checked and audited.

A refusal is an `unauthorized` error frame and close 1008, written to the audit stream — with the
reason, never the token: a malformed `auth` frame is described by its shape, not echoed.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from spotctl_sandbox.common import tokens
from spotctl_sandbox.realtime import protocol
from spotctl_sandbox.realtime.protocol import CloseCode, ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import KEY_RE

from . import audit, metrics
from .conn import HubConnection
from .core.inbound import Inbound
from .node import Hub

log = logging.getLogger("spotctl_sandbox.hub")

AUTH_SHAPE = 'the first frame must be {"type": "auth", "content": {"token": "<access token>"}} (or pass ?token=)'


class Authenticator:
    def __init__(self, hub: Hub, inbound: Inbound) -> None:
        self.hub, self.inbound = hub, inbound

    async def authenticate(self, ws: ServerConnection, ns: str, token: str | None) -> tokens.Claims | None:
        """The token's claims, or None once the connection has been refused (and closed)."""
        peer = _peer(ws)
        if token is None:
            token = await self._auth_frame(ws, ns, peer)
            if token is None:
                return None
        try:
            claims = await tokens.verify(self.hub.redis, self.hub.cfg.settings.jwt_secret, token)
            check_claims(claims.user_id, claims.namespaces, ns)
            return claims
        except tokens.TokenError as exc:
            await self._refuse(ws, ns, peer, exc.reason)
            return None
        except RedisError as exc:  # the session store did not answer: not the client's fault
            log.warning("Redis failed while authenticating %s: %s", peer, exc)
            await reject(ws, ErrorCode.UNAVAILABLE, "the hub could not check the session: reconnect later",
                         close_code=CloseCode.TRY_AGAIN)
            return None

    async def _auth_frame(self, ws: ServerConnection, ns: str, peer: str) -> str | None:
        try:
            raw = await asyncio.wait_for(ws.recv(), self.hub.cfg.auth_timeout_s)
            if isinstance(ws, HubConnection):
                ws.arrived()  # the auth frame's stamp: later frames' stamps stay in step
            first = self.inbound.parse(raw)
        except TimeoutError:
            await self._refuse(ws, ns, peer, f"authenticate within {self.hub.cfg.auth_timeout_s:g} s: "
                                             "send an 'auth' frame", audited="no auth frame in time")
            return None
        except ProtocolError as exc:
            # bad_json and bad_envelope name a place, never a value; other codes may quote the token
            reason = exc.message if exc.code in (ErrorCode.BAD_JSON, ErrorCode.BAD_ENVELOPE) else AUTH_SHAPE
            await self._refuse(ws, ns, peer, reason)
            return None
        except ConnectionClosed:
            return None
        if first.type != "auth":
            await self._refuse(ws, ns, peer, AUTH_SHAPE)
            return None
        return str(first.content["token"])

    async def _refuse(self, ws: ServerConnection, ns: str, peer: str, reason: str, *,
                      audited: str | None = None) -> None:
        self.hub.activity.error(ns)
        await audit.auth_failure(self.hub.redis, ns=ns, reason=audited or reason, peer=peer)
        await reject(ws, ErrorCode.UNAUTHORIZED, reason)


def check_claims(user_id: str, namespaces: frozenset[str] | None, ns: str) -> None:
    """TokenError unless the user can be addressed by the hub (`user:<id>` topics, invitations) and
    the token is valid for namespace `ns`."""
    if not KEY_RE.match(user_id):
        raise tokens.TokenError("token claim 'sub' must be a user id of 1-128 letters, digits and _.:@-")
    if namespaces is not None and ns not in namespaces:
        raise tokens.TokenError(f"token is not valid for namespace {ns!r}")


def display_name(name: str) -> str:
    """The token's `name` as text every client and PostgreSQL accept: no NUL, no unpaired surrogate,
    at most 100 characters."""
    return name.replace("\x00", "").encode("utf-8", "replace").decode()[:100]


async def reject(ws: ServerConnection, code: str, message: str, close_code: int = CloseCode.POLICY) -> None:
    """Refuse a connection that was never admitted: an error frame, then close."""
    if code == ErrorCode.UNAUTHORIZED:
        metrics.AUTH_FAILURES.labels(metrics.WORKER).inc()
    metrics.error(code).inc()
    try:
        await ws.send(protocol.error_frame(code, message))
        await ws.close(close_code, f"{code}: {message}"[:120])
    except ConnectionClosed:
        pass


def _peer(ws: ServerConnection) -> str:
    forwarded = ws.request.headers.get("X-Forwarded-For") if ws.request else None
    if forwarded:
        return forwarded.split(",")[0].strip()
    addr = ws.remote_address
    return f"{addr[0]}:{addr[1]}" if addr else "?"
