"""Connection-level messages: ping, clock sync, presence, ephemeral rooms, notification tracking."""

from __future__ import annotations

from typing import Any

from .. import bus, keys, publish
from ..core.priority import Priority
from ..protocol import envelope
from ..protocol.envelope import ErrorCode, ProtocolError
from .context import Context, Handler


async def ping(ctx: Context, content: dict[str, Any]) -> Any:
    ctx.conn.send(envelope.frame("pong", {}))


async def time_sync(ctx: Context, content: dict[str, Any]) -> Any:
    """NTP-style: the client computes offset = server_time - (t0 + t1) / 2 from its send/receive times."""
    return {"client_time": content["client_time"], "server_time": envelope.now_ms()}


async def presence(ctx: Context, content: dict[str, Any]) -> Any:
    key = keys.away(ctx.conn.ns, ctx.conn.user_id)
    if content["status"] == "away":
        await ctx.redis.set(key, "1", ex=int(ctx.hub.stale_after_s * 2))
    else:
        await ctx.redis.delete(key)
    await announce_presence(ctx, content["status"])
    return {"status": content["status"]}


async def announce_presence(ctx: Context, status: str) -> None:
    """Tell every chat channel this connection follows (batched per connection, never per member)."""
    for topic in [t for t in ctx.conn.topics if t.startswith("chat:")]:
        await bus.publish(ctx.redis, ctx.conn.ns, topic, "presence",
                          {"channel_id": int(topic[5:]), "user_id": ctx.conn.user_id, "status": status})


async def join(ctx: Context, content: dict[str, Any]) -> Any:
    replayed = await ctx.hub.subscribe(ctx.conn, f"room:{content['room']}")
    return {"room": content["room"], "replayed": replayed}


async def leave(ctx: Context, content: dict[str, Any]) -> Any:
    await ctx.hub.unsubscribe(ctx.conn, f"room:{content['room']}")
    return {"room": content["room"]}


async def room_message(ctx: Context, content: dict[str, Any]) -> Any:
    """Fan-out to everyone in the room on every worker (the sender too, as its delivery receipt)."""
    topic = f"room:{content['room']}"
    if topic not in ctx.conn.topics:
        raise ProtocolError(ErrorCode.FORBIDDEN, f"join room {content['room']!r} before sending to it")
    level = Priority.parse(content.get("priority", "NORMAL"))
    mid = await bus.publish(ctx.redis, ctx.conn.ns, topic, "room_message",
                            {"room": content["room"], "from": ctx.conn.user_id, "data": content["data"]},
                            durable=True, priority=int(level))
    return {"room": content["room"], "message_id": mid}


async def notification_read(ctx: Context, content: dict[str, Any]) -> Any:
    if not await publish.mark_read(ctx.redis, ctx.conn.ns, ctx.conn.user_id, content["id"]):
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no notification {content['id']!r} for you")
    return {"id": content["id"], "status": "read"}


async def notification_status(ctx: Context, content: dict[str, Any]) -> Any:
    record = await publish.notification_status(ctx.redis, content["id"], ctx.conn.ns)
    if record is None or record.get("user_id") != ctx.conn.user_id:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no notification {content['id']!r} for you")
    return record


async def preferences(ctx: Context, content: dict[str, Any]) -> Any:
    key = keys.prefs(ctx.conn.ns, ctx.conn.user_id)
    update = {}
    if "channels" in content:
        update["channels"] = ",".join(content["channels"])
    if "locale" in content:
        update["locale"] = content["locale"]
    if update:
        await ctx.redis.hset(key, mapping=update)
    return {bus.text_of(k): bus.text_of(v) for k, v in (await ctx.redis.hgetall(key)).items()}


HANDLERS: dict[str, Handler] = {
    "ping": ping, "time_sync": time_sync, "presence": presence, "join": join, "leave": leave,
    "room_message": room_message, "notification_read": notification_read,
    "notification_status": notification_status, "preferences": preferences,
}
