"""Rooms: ephemeral public fan-out groups, durable for resume, with no database."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from .context import Context
from .feature import ID, Feature, Reply, obj

feature = Feature("rooms", pushes={"room_message": "a message sent to a room you joined (the sender gets it too)"})


class Room(TypedDict):
    room: str


class RoomMessage(TypedDict):
    room: str
    data: Any
    priority: NotRequired[Literal["LOW", "NORMAL", "HIGH", "CRITICAL"]]


@feature.message("join", obj({"room": ID}))
async def join(ctx: Context, content: Room) -> Reply:
    replayed = await ctx.hub.subscribe(ctx.conn, Topic.room(content["room"]))
    return {"room": content["room"], "replayed": replayed}


@feature.message("leave", obj({"room": ID}))
async def leave(ctx: Context, content: Room) -> Reply:
    await ctx.hub.unsubscribe(ctx.conn, Topic.room(content["room"]))
    return {"room": content["room"]}


@feature.message("room_message", obj({"room": ID, "data": {}},
                                   {"priority": {"enum": ["LOW", "NORMAL", "HIGH", "CRITICAL"]}}))
async def room_message(ctx: Context, content: RoomMessage) -> Reply:
    """Fan-out to everyone in the room on every worker (the sender too, as its delivery receipt)."""
    topic = Topic.room(content["room"])
    if not ctx.joined(topic):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"join room {content['room']!r} before sending to it")
    level = Priority.parse(content.get("priority", "NORMAL"))
    mid = await ctx.publish(topic, "room_message",
                            {"room": content["room"], "from": ctx.conn.user_id, "data": content["data"]},
                            durable=True, priority=int(level))
    return {"room": content["room"], "message_id": mid}
