"""Flow 2 (API side): `recs:<user>` in Redis, else a RabbitMQ request/reply to the recommendation
worker (direct exchange `recommendations`, routing key `user.<id>`); the reply is cached for 1 h.
No worker bound or no answer in time -> 503 naming `recommendation-worker`."""

from __future__ import annotations

import json
from typing import Any

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Account, Res

router = make_router("/api", tags=["recommendations"], errors=(401,))

RECS_TTL_S = 3600


def recs_key(user_id: str) -> str:
    return f"recs:{user_id}"


@router.get("/recommendations")
async def recommendations(user: Account, res: Res) -> dict[str, Any]:
    key = recs_key(user.user_id)
    cached = await res.redis.get(key)
    metrics.CACHE.labels("recommendations", "hit" if cached else "miss").inc()
    if cached is not None:
        return {**json.loads(cached), "source": "cache"}
    reply = await res.rabbit.request_recommendations(user.user_id)
    await res.redis.set(key, json.dumps(reply), ex=RECS_TTL_S, nx=True)  # the worker may have cached it
    return {**reply, "source": "worker"}
