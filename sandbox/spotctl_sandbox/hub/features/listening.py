"""Listening sessions: the host's playback controls reach every device and friend in the session.

State lives in Redis (one hash per session, written under WATCH so concurrent host devices never
lose an update); the shared queue is a sorted set of items plus a hash of their tracks, so concurrent
adds and removes from many listeners are single atomic commands and none is lost.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal, NotRequired, TypedDict

from redis.exceptions import WatchError

from spotctl_sandbox.realtime import bus, keys, protocol
from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.topics import Topic

from ..core.listening import Action, PlaybackState
from .context import Context
from .feature import ID, Feature, Reply, obj

SESSION_TTL_S = 12 * 3600

feature = Feature("listening", pushes={
    "session_state": "the host changed playback: the whole snapshot (priority HIGH)",
    "session_member": "someone else joined or left the session",
    "session_queue": "the shared queue changed (the editor gets it too)",
})


class SessionCreate(TypedDict):
    track_id: NotRequired[str]
    queue: NotRequired[list[str]]


class SessionRef(TypedDict):
    session_id: str


class SessionControl(TypedDict):
    session_id: str
    action: Literal["play", "pause", "seek", "skip", "volume"]
    position_ms: NotRequired[float]
    volume: NotRequired[float]
    track_id: NotRequired[str]


class QueueAdd(TypedDict):
    session_id: str
    track_id: str


class QueueRemove(TypedDict):
    session_id: str
    item_id: str


def topic(session_id: str) -> Topic:
    return Topic.session(session_id)


async def _meta(ctx: Context, sid: str) -> dict[str, str]:
    raw = await ctx.redis.hgetall(keys.listening(ctx.conn.ns, sid))
    if not raw:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no listening session {sid!r}")
    return {bus.text_of(k): bus.text_of(v) for k, v in raw.items()}


async def _queue(ctx: Context, sid: str) -> list[dict[str, Any]]:
    qkey = keys.listening_queue(ctx.conn.ns, sid)
    ids = [bus.text_of(i) for i in await ctx.redis.zrange(qkey + ":order", 0, -1)]
    if not ids:
        return []
    items = await ctx.redis.hmget(qkey + ":items", ids)
    return [json.loads(i) for i in items if i is not None]


def _snapshot(sid: str, host: str, state: PlaybackState, queue: list[dict[str, Any]],
              action: str | None = None) -> dict[str, Any]:
    now = protocol.now_ms()
    return {"session_id": sid, "host": host, "action": action, "track_id": state.track_id,
            "playing": state.playing, "position_ms": state.position_ms, "updated_ms": state.updated_ms,
            "volume": state.volume, "version": state.version, "server_time": now,
            "position_now_ms": state.position_at(now), "queue": queue}


@feature.message("session_create", obj({}, {"track_id": ID, "queue": {"type": "array", "items": ID, "maxItems": 500}}))
async def session_create(ctx: Context, content: SessionCreate) -> Reply:
    sid = uuid.uuid4().hex[:12]
    key = keys.listening(ctx.conn.ns, sid)
    state = PlaybackState(track_id=content.get("track_id"), updated_ms=protocol.now_ms())
    await ctx.redis.hset(key, mapping={"host": ctx.conn.user_id, "state": state.to_json()})
    await ctx.redis.expire(key, SESSION_TTL_S)
    for track in content.get("queue", []):
        await _add(ctx, sid, track)
    await ctx.hub.subscribe(ctx.conn, topic(sid))
    return _snapshot(sid, ctx.conn.user_id, state, await _queue(ctx, sid))


@feature.message("session_join", obj({"session_id": ID}))
async def session_join(ctx: Context, content: SessionRef) -> Reply:
    """Anyone holding the (unguessable) session id may listen along; only the host controls."""
    sid = content["session_id"]
    meta = await _meta(ctx, sid)
    await ctx.hub.subscribe(ctx.conn, topic(sid))
    await ctx.publish(topic(sid), "session_member",
                      {"session_id": sid, "user_id": ctx.conn.user_id, "joined": True}, echo=False)
    return _snapshot(sid, meta["host"], PlaybackState.from_json(meta["state"]), await _queue(ctx, sid))


@feature.message("session_leave", obj({"session_id": ID}))
async def session_leave(ctx: Context, content: SessionRef) -> Reply:
    """Stop listening; the others hear of it only from a connection that was listening."""
    sid = content["session_id"]
    if ctx.joined(topic(sid)):
        await ctx.hub.unsubscribe(ctx.conn, topic(sid))
        await ctx.publish(topic(sid), "session_member",
                          {"session_id": sid, "user_id": ctx.conn.user_id, "joined": False})
    return {"session_id": sid}


@feature.message("session_control", obj(
    {"session_id": ID, "action": {"enum": ["play", "pause", "seek", "skip", "volume"]}},
    {"position_ms": {"type": "number", "minimum": 0}, "volume": {"type": "number", "minimum": 0, "maximum": 1},
     "track_id": ID}))
async def session_control(ctx: Context, content: SessionControl) -> Reply:
    sid, action = content["session_id"], Action(content["action"])
    key = keys.listening(ctx.conn.ns, sid)
    meta = await _meta(ctx, sid)
    if meta["host"] != ctx.conn.user_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the session's host controls playback")
    track_id = content.get("track_id")
    if action is Action.SKIP and track_id is None:
        track_id = await _pop_next(ctx, sid)
    async with ctx.redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                state = PlaybackState.from_json(await pipe.hget(key, "state"))
                try:
                    new = state.apply(action, protocol.now_ms(), position_ms=content.get("position_ms"),
                                      volume=content.get("volume"), track_id=track_id)
                except ValueError as exc:
                    raise ProtocolError(ErrorCode.INVALID_CONTENT, f"{action.value}: {exc}") from None
                pipe.multi()
                pipe.hset(key, "state", new.to_json())
                pipe.expire(key, SESSION_TTL_S)
                await pipe.execute()
                break
            except WatchError:
                continue
    snapshot = _snapshot(sid, meta["host"], new, await _queue(ctx, sid), action.value)
    await ctx.publish(topic(sid), "session_state", snapshot, priority=int(Priority.HIGH))
    return {"session_id": sid, "version": new.version}


async def _add(ctx: Context, sid: str, track_id: str) -> dict[str, Any]:
    qkey = keys.listening_queue(ctx.conn.ns, sid)
    item = {"item_id": uuid.uuid4().hex[:10], "track_id": track_id, "added_by": ctx.conn.user_id}
    seq = await ctx.redis.incr(qkey + ":seq")
    async with ctx.redis.pipeline(transaction=True) as pipe:
        pipe.hset(qkey + ":items", item["item_id"], json.dumps(item))
        pipe.zadd(qkey + ":order", {item["item_id"]: seq})
        for suffix in (":items", ":order", ":seq"):
            pipe.expire(qkey + suffix, SESSION_TTL_S)
        await pipe.execute()
    return item


async def _pop_next(ctx: Context, sid: str) -> str | None:
    qkey = keys.listening_queue(ctx.conn.ns, sid)
    popped = await ctx.redis.zpopmin(qkey + ":order")
    if not popped:
        return None
    item_id = bus.text_of(popped[0][0])
    raw = await ctx.redis.hget(qkey + ":items", item_id)
    await ctx.redis.hdel(qkey + ":items", item_id)
    return json.loads(raw)["track_id"] if raw else None


@feature.message("queue_add", obj({"session_id": ID, "track_id": ID}))
async def queue_add(ctx: Context, content: QueueAdd) -> Reply:
    sid = content["session_id"]
    await _meta(ctx, sid)
    if not ctx.joined(topic(sid)):
        raise ProtocolError(ErrorCode.FORBIDDEN, "join the session before editing its queue")
    item = await _add(ctx, sid, content["track_id"])
    await _publish_queue(ctx, sid, {"added": item})
    return item


@feature.message("queue_remove", obj({"session_id": ID, "item_id": ID}))
async def queue_remove(ctx: Context, content: QueueRemove) -> Reply:
    sid, item_id = content["session_id"], content["item_id"]
    if not ctx.joined(topic(sid)):
        raise ProtocolError(ErrorCode.FORBIDDEN, "join the session before editing its queue")
    qkey = keys.listening_queue(ctx.conn.ns, sid)
    if not await ctx.redis.zrem(qkey + ":order", item_id):
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no queue item {item_id!r} (already played or removed)")
    await ctx.redis.hdel(qkey + ":items", item_id)
    await _publish_queue(ctx, sid, {"removed": item_id})
    return {"session_id": sid, "item_id": item_id}


async def _publish_queue(ctx: Context, sid: str, change: dict[str, Any]) -> None:
    await ctx.publish(topic(sid), "session_queue",
                      {"session_id": sid, "by": ctx.conn.user_id, **change, "queue": await _queue(ctx, sid)})
