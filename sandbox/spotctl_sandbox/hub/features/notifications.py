"""Notification tracking and preferences (notifications themselves are published by the backend
through `spotctl_sandbox.realtime.publish`)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from redis.typing import EncodableT, FieldT

from spotctl_sandbox.realtime import bus, keys, publish
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError

from .context import Context
from .feature import ID, Feature, Reply, obj

feature = Feature("notifications", pushes={
    "notification": "one notification for you (pending ones arrive on connect, highest priority first)",
    "notification_batch": "LOW priority notifications gathered over the batching window",
})


class NotificationRef(TypedDict):
    id: str


class Preferences(TypedDict):
    channels: NotRequired[list[Literal["websocket", "push", "email", "sms"]]]
    locale: NotRequired[Literal["en", "de", "fr"]]


@feature.message("notification_read", obj({"id": ID}))
async def notification_read(ctx: Context, content: NotificationRef) -> Reply:
    if not await publish.mark_read(ctx.redis, ctx.conn.ns, ctx.conn.user_id, content["id"]):
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no notification {content['id']!r} for you")
    return {"id": content["id"], "status": "read"}


@feature.message("notification_status", obj({"id": ID}))
async def notification_status(ctx: Context, content: NotificationRef) -> Reply:
    record = await publish.notification_status(ctx.redis, content["id"], ctx.conn.ns)
    if record is None or record.get("user_id") != ctx.conn.user_id:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no notification {content['id']!r} for you")
    return dict(record)


@feature.message("preferences", obj({}, {
    "channels": {"type": "array", "uniqueItems": True, "minItems": 1,
                 "items": {"enum": ["websocket", "push", "email", "sms"]}},
    "locale": {"enum": ["en", "de", "fr"]}}))
async def preferences(ctx: Context, content: Preferences) -> Reply:
    key = keys.prefs(ctx.conn.ns, ctx.conn.user_id)
    update: dict[FieldT, EncodableT] = {}
    if "channels" in content:
        update["channels"] = ",".join(content["channels"])
    if "locale" in content:
        update["locale"] = content["locale"]
    if update:
        await ctx.redis.hset(key, mapping=update)
    return {bus.text_of(k): bus.text_of(v) for k, v in (await ctx.redis.hgetall(key)).items()}
