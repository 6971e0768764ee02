"""The hub's audit log: refused authentications and authorization denials, in a capped Redis stream
`hub:audit` (queryable: `recent`) plus a log line. (The hub has no admin-only action to record.)

Entries carry reasons, user ids and peers, never tokens. Writing one never fails the caller.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from spotctl_sandbox.realtime import bus, keys

log = logging.getLogger("spotctl_sandbox.hub.audit")
AUDIT_MAXLEN = 10_000


async def record(redis: aioredis.Redis, event: str, **fields: str) -> None:
    """Append one entry; Redis being away costs the entry, not the caller."""
    entry: dict[FieldT, EncodableT] = {
        "event": event, **{k: v.encode("utf-8", "replace").decode() for k, v in fields.items()},
        "ts": f"{time.time():.3f}"}
    log.warning("audit %s", " ".join(f"{k!s}={v!s}" for k, v in entry.items() if k != "ts"))
    try:
        await redis.xadd(keys.AUDIT_STREAM, entry, maxlen=AUDIT_MAXLEN, approximate=True)
    except (RedisError, OSError) as exc:
        log.warning("could not write the audit stream: %s", exc)


async def auth_failure(redis: aioredis.Redis, *, ns: str, reason: str, peer: str, user_id: str = "") -> None:
    await record(redis, "auth_failure", ns=ns, reason=reason, peer=peer, user_id=user_id or "-")


async def denied(redis: aioredis.Redis, *, ns: str, user_id: str, kind: str, reason: str) -> None:
    """An authenticated user asked for something it may not do (a `forbidden` answer)."""
    await record(redis, "forbidden", ns=ns, user_id=user_id, type=kind, reason=reason)


async def recent(redis: aioredis.Redis, count: int = 100) -> list[dict[str, str]]:
    """Newest first."""
    rows = await redis.xrevrange(keys.AUDIT_STREAM, count=count) or []
    return [{bus.text_of(k): bus.text_of(v) for k, v in (fields or {}).items()} | {"id": bus.text_of(i)}
            for i, fields in rows]
