"""Connection-level messages: authentication, ping, clock sync and the user's own presence."""

from __future__ import annotations

from typing import Literal, TypedDict

from spotctl_sandbox.realtime import protocol
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError

from . import chat
from .context import Context
from .feature import EMPTY, Empty, Feature, Reply, obj

feature = Feature("system", pushes={
    "welcome": "the first frame of every connection",
    "error": "a frame was refused; `reply_to` names it when it had an `id`",
    "reconnect": "the server is shutting down: reconnect after `retry_after_ms`",
})


class Auth(TypedDict):
    token: str


class TimeSync(TypedDict):
    client_time: float


class PresenceUpdate(TypedDict):
    status: Literal["online", "away"]


@feature.message("auth", obj({"token": {"type": "string", "minLength": 1, "maxLength": 4096}}))
async def auth(ctx: Context, content: Auth) -> Reply:
    """Only ever the first frame; the connection reads it before any handler runs."""
    raise ProtocolError(ErrorCode.BAD_ENVELOPE, "'auth' is not accepted now: this connection is authenticated")


@feature.message("ping", EMPTY, reply="pong")
async def ping(ctx: Context, content: Empty) -> Reply:
    return {}


@feature.message("time_sync", obj({"client_time": {"type": "number"}}))
async def time_sync(ctx: Context, content: TimeSync) -> Reply:
    """NTP-style: the client computes offset = server_time - (t0 + t1) / 2 from its send/receive times."""
    return {"client_time": content["client_time"], "server_time": protocol.now_ms()}


@feature.message("presence", obj({"status": {"enum": ["online", "away"]}}))
async def presence(ctx: Context, content: PresenceUpdate) -> Reply:
    await ctx.hub.presence.set_away(ctx.conn.ns, ctx.conn.user_id, content["status"] == "away")
    await chat.announce(ctx.hub, ctx.conn, content["status"])
    return {"status": content["status"]}
