"""The recommendation worker: answer `user.<id>` requests from listening history, cache for 1 h.

Requests arrive on `recommendations.requests` (bound to the alternate exchange of `recommendations`)
with reply_to + correlation_id.  The plays read are the user's own and those of listeners who share
at least one song with them (their neighbourhood): enough for item co-occurrence without loading the
whole table.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aio_pika
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


async def compute(deps: Deps, user_id: str, limit: int) -> Recommendation:
    if not user_id.isdigit():
        return recommend(user_id, [], limit)  # not a catalogue user: nothing is known about them
    async with deps.pg.connection() as conn:
        rows = await (await conn.execute(NEIGHBOURHOOD_SQL, {"user": int(user_id)})).fetchall()
        popular = await (await conn.execute(POPULAR_SQL, (limit * 3,))).fetchall()
    plays = [Play(str(u), str(s)) for u, s in rows]
    return recommend(user_id, plays, limit, popular=[str(r[0]) for r in popular])


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
