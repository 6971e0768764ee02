"""Notify a user in real time: the function the backend's workers call.

`publish_notification` decides the channels (user preferences + priority), renders the template in
the user's locale, records delivery tracking (sent -> delivered -> read), parks the notification in
the user's pending set (so an offline user gets it on reconnect, in priority order) and fans it out
to the user's live connections. Push, email and SMS go to the BullMQ `notifications` queue, whose
jobs (`push`, `email`) the backend workers deliver to the local sinks.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT

from .. import contract
from ..common import logs
from ..common.redisconn import AsyncAnyRedis
from . import bus, keys, protocol, templates
from .priority import Priority, pending_score
from .routing import Channel, Preferences, route
from .topics import Topic

log = logging.getLogger("spotctl_sandbox.hub.notifications")
NOTIFICATION_TTL_S = 7 * 24 * 3600


def _decode(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {bus.text_of(k): bus.text_of(v) for k, v in raw.items()}


async def publish_notification(redis: AsyncAnyRedis, user_id: str, *, title: str, body: str,
                               priority: str = "NORMAL", kind: str = "generic", data: dict[str, Any] | None = None,
                               namespace: str = keys.DEFAULT_NAMESPACE) -> str:
    """Send a notification to `user_id`; returns its id (query it with `notification_status`).

    Raises ValueError for an unknown priority, a bad namespace, or `data` a client could not decode
    (NaN, Infinity, ...: the error names the field).
    """
    ns = keys.check_namespace(namespace)
    level = Priority.parse(priority)
    protocol.check_sendable(data or {}, "data")
    protocol.check_sendable({"title": title, "body": body}, "notification")
    prefs = Preferences.from_redis(_decode(await redis.hgetall(keys.prefs(ns, user_id))))
    channels = route(level, prefs)
    title, text = templates.render(kind, prefs.locale, title, body, data)
    nid = "n_" + uuid.uuid4().hex
    created = protocol.now_ms()
    topic = Topic.user(str(user_id))
    content = {"id": nid, "title": title, "content": text, "priority": level.name, "level": int(level),
               "kind": kind, "locale": prefs.locale, "data": data or {}}
    body_json = protocol.dumps(protocol.body("notification", content, topic=str(topic), priority=int(level),
                                             server_time=created))
    record: dict[FieldT, EncodableT] = {
        "id": nid, "user_id": str(user_id), "status": "sent", "priority": level.name, "kind": kind,
        "channels": ",".join(sorted(c.value for c in channels)), "created_at": str(created), "body": body_json}
    external = sorted(c.value for c in channels if c is not Channel.WEBSOCKET)
    # recorded queued before a job exists: a worker marks its channel delivered once it is done, and
    # a "queued" written after the job was added could land after that and undo it
    record.update({f"channel:{channel}": "queued" for channel in external})
    correlation = logs.current()
    if correlation:  # the hub's line in `spotctl trace` when it is delivered
        record[logs.FIELD] = correlation
    shard = bus.sharded(redis)
    # one transaction on a single Redis; on a cluster the record, the user's pending set and the
    # channel live on different shards, so the pipeline goes shard by shard (the record first)
    async with redis.pipeline(transaction=not shard) as pipe:
        pipe.hset(keys.notification(ns, nid), mapping=record)
        pipe.expire(keys.notification(ns, nid), NOTIFICATION_TTL_S)
        if Channel.WEBSOCKET in channels:
            pipe.zadd(keys.pending(ns, str(user_id)), {nid: pending_score(level, created)})
            pipe.expire(keys.pending(ns, str(user_id)), NOTIFICATION_TTL_S)
            bus.publish_payload(pipe, shard, keys.channel(ns, topic), protocol.bus_payload(nid, body_json))
        await pipe.execute()
    if external:
        await _enqueue_external(redis, ns, str(user_id), nid, external, content)
    if logs.current():
        log.info("notification %s (%s, %s) for user %s via %s", nid, kind, level.name, user_id, record["channels"])
    return nid


async def _enqueue_external(redis: AsyncAnyRedis, ns: str, user_id: str, nid: str, channels: list[str],
                            content: dict[str, Any]) -> None:
    """One BullMQ job per channel: `email` for email, `push` for push and SMS (the push sink).

    The record already says each channel is queued (publish_notification): nothing is written to it
    here, so a worker's "delivered" is never overwritten."""
    from bullmq import Queue

    queue = Queue(contract.Q_NOTIFICATIONS, {"connection": redis, "prefix": contract.bull_prefix(bus.sharded(redis))})
    for channel in channels:
        job = contract.JOB_EMAIL if channel == "email" else contract.JOB_PUSH
        await queue.add(job, logs.stamp({"notification_id": nid, "namespace": ns, "user_id": user_id,
                                         "channel": channel, "title": content["title"], "body": content["content"],
                                         "priority": content["priority"], "kind": content["kind"],
                                         "locale": content["locale"], "data": content["data"]}),
                        contract.job_options(priority=4 - content["level"]))


async def notification_status(redis: AsyncAnyRedis, notification_id: str,
                              namespace: str = keys.DEFAULT_NAMESPACE) -> dict[str, str] | None:
    """Delivery tracking of one notification (status sent|delivered|read plus timestamps), or None."""
    raw = _decode(await redis.hgetall(keys.notification(keys.check_namespace(namespace), notification_id)))
    raw.pop("body", None)
    return raw or None


async def mark_delivered(redis: AsyncAnyRedis, ns: str, user_id: str, nids: list[str]) -> None:
    """Called by the hub once a notification is written to one of the user's sockets."""
    if not nids:
        return
    now = str(protocol.now_ms())
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.pending(ns, user_id), *nids)
        for nid in nids:
            pipe.eval(_MARK, 1, keys.notification(ns, nid), "delivered", "delivered_at", now)
            pipe.hget(keys.notification(ns, nid), logs.FIELD)
        results = await pipe.execute()
    for nid, cid in zip(nids, results[2::2], strict=True):  # the hub's line in `spotctl trace`
        if cid:
            with logs.bound(bus.text_of(cid)):
                log.info("notification %s delivered to user %s", nid, user_id)


async def mark_read(redis: AsyncAnyRedis, ns: str, user_id: str, nid: str) -> bool:
    """The user read it; False if the notification is unknown or belongs to someone else."""
    key = keys.notification(ns, nid)
    owner = await redis.hget(key, "user_id")
    if owner is None or bus.text_of(owner) != user_id:
        return False
    await redis.zrem(keys.pending(ns, user_id), nid)
    await redis.eval(_MARK, 1, key, "read", "read_at", str(protocol.now_ms()))
    return True


# Statuses only move forward: sent -> delivered -> read.
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local order = {sent=1, delivered=2, read=3}
local cur = redis.call('HGET', KEYS[1], 'status') or 'sent'
if order[ARGV[1]] > (order[cur] or 0) then redis.call('HSET', KEYS[1], 'status', ARGV[1]) end
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


async def pending_bodies(redis: AsyncAnyRedis, ns: str, user_id: str, limit: int = 200) -> list[tuple[str, str]]:
    """(id, body json) of the user's undelivered notifications, highest priority first."""
    nids = [bus.text_of(n) for n in await redis.zrange(keys.pending(ns, user_id), 0, limit - 1)]
    if not nids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for nid in nids:
            pipe.hget(keys.notification(ns, nid), "body")
        bodies = await pipe.execute()
    stale = [nid for nid, b in zip(nids, bodies, strict=True) if b is None]
    if stale:
        await redis.zrem(keys.pending(ns, user_id), *stale)
    return [(nid, bus.text_of(b)) for nid, b in zip(nids, bodies, strict=True) if b is not None]
