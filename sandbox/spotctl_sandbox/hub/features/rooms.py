"""Rooms: ephemeral public fan-out groups, durable for resume, with no database."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from spotctl_sandbox.realtime import bus, protocol
from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from .context import Context
from .feature import CLIENT_MSG_ID, ID, SENT_LOOKBACK_MS, Feature, Reply, obj

feature = Feature("rooms", pushes={"room_message": "a message sent to a room you joined (the sender gets it too)"})


class Room(TypedDict):
    room: str


class RoomMessage(TypedDict):
    room: str
    data: Any
    priority: NotRequired[Literal["LOW", "NORMAL", "HIGH", "CRITICAL"]]
    client_msg_id: NotRequired[str]


SENT_TTL_S = 24 * 3600  # how long a client_msg_id is remembered


@feature.message("join", obj({"room": ID}))
async def join(ctx: Context, content: Room) -> Reply:
    replayed = await ctx.hub.subscribe(ctx.conn, Topic.room(content["room"]))
    return {"room": content["room"], "replayed": replayed}


@feature.message("leave", obj({"room": ID}))
async def leave(ctx: Context, content: Room) -> Reply:
    await ctx.hub.unsubscribe(ctx.conn, Topic.room(content["room"]))
    return {"room": content["room"]}


@feature.message("room_message", obj({"room": ID, "data": {}},
                                   {"priority": {"enum": ["LOW", "NORMAL", "HIGH", "CRITICAL"]},
                                    "client_msg_id": CLIENT_MSG_ID}))
async def room_message(ctx: Context, content: RoomMessage) -> Reply:
    """Fan-out to everyone in the room on every worker (the sender too, as its delivery receipt).

    With a `client_msg_id`, a retry gets the first attempt's answer: Redis remembers the id's frame
    for a day (empty while the first attempt is under way or failed; then the room's stream says
    whether its frame went out after all)."""
    topic = Topic.room(content["room"])
    if not ctx.joined(topic):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"join room {content['room']!r} before sending to it")
    level = Priority.parse(content.get("priority", "NORMAL"))
    body = {"room": content["room"], "from": ctx.conn.user_id, "data": content["data"]}
    client_id = content.get("client_msg_id")
    key = f"hub:{ctx.conn.ns}:sent:{ctx.conn.user_id}:{content['room']}:{client_id}"
    if client_id is not None:
        body["client_msg_id"] = client_id
        if not await ctx.redis.set(key, "", nx=True, ex=SENT_TTL_S):  # a retry
            sent = await ctx.redis.get(key)
            mid = bus.text_of(sent) if sent else await _published(ctx, topic, client_id)
            if mid:
                await ctx.redis.set(key, mid, xx=True, keepttl=True)
                return {"room": content["room"], "message_id": mid}
    mid = await ctx.publish(topic, "room_message", body, durable=True, priority=int(level))
    if client_id is not None:
        await ctx.redis.set(key, mid, xx=True, keepttl=True)
    return {"room": content["room"], "message_id": mid}


async def _published(ctx: Context, topic: Topic, client_id: str) -> str | None:
    """The id of this sender's frame with `client_msg_id` in the room's recent stream, if it went out."""
    since_ms = int(protocol.now_ms()) - SENT_LOOKBACK_MS
    for text in await ctx.hub.broker.replay(ctx.conn.ns, topic, f"{since_ms}-0"):
        frame = protocol.loads(text)
        found = frame.get("content", {})
        if found.get("client_msg_id") == client_id and found.get("from") == ctx.conn.user_id:
            return str(frame["id"])
    return None
