"""The recommendation worker: answer `user.<id>` requests from listening history, cache for 1 h.

Requests arrive on `recommendations.requests` (bound to the alternate exchange of `recommendations`)
with reply_to + correlation_id.  The plays read are the user's own and those of listeners who share
at least one song with them (their neighbourhood): enough for item co-occurrence without loading the
whole table.  When that leaves room, the songs most played by the user's behaviour segment (set by
the analytics service's BehaviorAnalyzer in analytics_user_segments) fill it before the catalogue's
most played: a new listener gets what listeners like them play, not only what everybody plays.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import aio_pika
import psycopg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from spotctl_sandbox import contract as names
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.messages import RecommendationRequest
from spotctl_sandbox.workers.rabbit import Handler
from spotctl_sandbox.workers.recommender import Play, Recommendation, recommend

log = logging.getLogger(__name__)

NEIGHBOURHOOD_SQL = """
WITH mine AS (
    SELECT song_id FROM listening_history WHERE user_id = %(user)s ORDER BY played_at DESC LIMIT 500
), neighbours AS (
    SELECT DISTINCT user_id FROM listening_history
    WHERE song_id IN (SELECT song_id FROM mine) AND user_id <> %(user)s LIMIT 2000
)
SELECT user_id, song_id FROM listening_history
WHERE user_id = %(user)s OR user_id IN (SELECT user_id FROM neighbours)
"""
POPULAR_SQL = "SELECT id FROM songs ORDER BY play_count DESC, id LIMIT %s"
# the songs segment-mates (same tenant, segment and model version) played most in the last 30 days
SEGMENT_SQL = """
SELECT me.label, lh.song_id
FROM analytics_user_segments me
JOIN analytics_user_segments mate ON mate.tenant = me.tenant AND mate.segment = me.segment
     AND mate.model_version = me.model_version AND mate.user_id <> me.user_id
JOIN listening_history lh ON lh.user_id = mate.user_id AND lh.played_at > now() - interval '30 days'
WHERE me.tenant = 'default' AND me.user_id = %(user)s
GROUP BY me.label, lh.song_id ORDER BY count(*) DESC, lh.song_id LIMIT %(limit)s
"""


async def segment_songs(conn: Any, user_id: int, limit: int) -> tuple[str | None, list[str]]:
    """(the user's segment label, its most played songs); (None, []) with no segment stored."""
    try:
        rows = await (await conn.execute(SEGMENT_SQL, {"user": user_id, "limit": limit})).fetchall()
    except psycopg.errors.UndefinedTable:  # no analytics service has run here: no segments yet
        return None, []
    return (rows[0][0] if rows else None), [str(r[1]) for r in rows]


async def compute(deps: Deps, user_id: str, limit: int) -> Recommendation:
    if not user_id.isdigit():
        return recommend(user_id, [], limit)  # not a catalogue user: nothing is known about them
    async with deps.pg.connection() as conn:
        rows = await (await conn.execute(NEIGHBOURHOOD_SQL, {"user": int(user_id)})).fetchall()
        label, mates = await segment_songs(conn, int(user_id), limit * 3)
        popular = await (await conn.execute(POPULAR_SQL, (limit * 3,))).fetchall()
    plays = [Play(str(u), str(s)) for u, s in rows]
    rec = recommend(user_id, plays, limit, popular=[*mates, *(str(r[0]) for r in popular)])
    if rec.method == "popular" and mates and rec.song_ids and rec.song_ids[0] in mates:
        rec = dataclasses.replace(rec, method="segment")  # the fill came from segment-mates
        log.debug("recommendations: user %s filled from segment %r", user_id, label)
    return rec


def reply_body(rec: Recommendation, computed_at: float) -> dict[str, Any]:
    return {"user_id": rec.user_id, "song_ids": list(rec.song_ids), "scores": list(rec.scores),
            "method": rec.method, "computed_at": computed_at}


def handler(deps: Deps) -> Handler:
    async def on_request(message: AbstractIncomingMessage, channel: AbstractChannel) -> None:
        request = RecommendationRequest.parse(message.body, message.routing_key or "")
        started = time.perf_counter()
        rec = await compute(deps, request.user_id, request.limit)
        body = reply_body(rec, time.time())
        encoded = json.dumps(body).encode()
        await deps.redis.set(names.recs_key(request.user_id), encoded, ex=names.RECS_TTL_S)
        if message.reply_to:
            await channel.default_exchange.publish(
                aio_pika.Message(encoded, correlation_id=message.correlation_id,
                                 content_type="application/json"),
                routing_key=message.reply_to, mandatory=False)
        log.info("recommendations: user %s -> %d songs (%s) in %.1f ms", request.user_id,
                 len(rec.song_ids), rec.method, 1000 * (time.perf_counter() - started))

    return on_request
