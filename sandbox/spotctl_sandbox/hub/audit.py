"""Audit log of authentication failures: a capped Redis stream (queryable) plus a log line."""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis

from spotctl_sandbox.realtime import bus, keys

log = logging.getLogger("spotctl_sandbox.hub.audit")
AUDIT_MAXLEN = 10_000


async def auth_failure(redis: aioredis.Redis, *, ns: str, reason: str, peer: str, user_id: str = "") -> None:
    log.warning("auth failure ns=%s peer=%s user=%s reason=%s", ns, peer, user_id or "-", reason)
    try:
        await redis.xadd(keys.AUDIT_STREAM, {"event": "auth_failure", "ns": ns, "reason": reason,
                                             "peer": peer, "user_id": user_id, "ts": f"{time.time():.3f}"},
                         maxlen=AUDIT_MAXLEN, approximate=True)
    except Exception:
        log.exception("could not write the audit stream")


async def recent(redis: aioredis.Redis, count: int = 100) -> list[dict[str, str]]:
    """Newest first."""
    rows = await redis.xrevrange(keys.AUDIT_STREAM, count=count) or []
    return [{bus.text_of(k): bus.text_of(v) for k, v in (fields or {}).items()} | {"id": bus.text_of(i)}
            for i, fields in rows]
