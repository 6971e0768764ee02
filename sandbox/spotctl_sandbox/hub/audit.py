"""Audit log of authentication failures: a capped Redis stream (queryable) plus a log line."""

from __future__ import annotations

import logging
import time
from typing import Any

from . import keys

log = logging.getLogger("spotctl_sandbox.hub.audit")
AUDIT_MAXLEN = 10_000


async def auth_failure(redis: Any, *, ns: str, reason: str, peer: str, user_id: str = "") -> None:
    log.warning("auth failure ns=%s peer=%s user=%s reason=%s", ns, peer, user_id or "-", reason)
    try:
        await redis.xadd(keys.AUDIT_STREAM, {"event": "auth_failure", "ns": ns, "reason": reason,
                                             "peer": peer, "user_id": user_id, "ts": f"{time.time():.3f}"},
                         maxlen=AUDIT_MAXLEN, approximate=True)
    except Exception:
        log.exception("could not write the audit stream")


async def recent(redis: Any, count: int = 100) -> list[dict[str, str]]:
    """Newest first."""
    rows = await redis.xrevrange(keys.AUDIT_STREAM, count=count)
    return [{k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
             for k, v in fields.items()} | {"id": i.decode() if isinstance(i, bytes) else i}
            for i, fields in rows]
