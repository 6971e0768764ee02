"""The audit log: who was refused what, and what admins did (plus failed logins and bad tokens).

A capped Redis stream (`audit`, newest ~100,000 entries; Redis keeps it on disk with the stack's
AOF) that admins read through the API, plus a log line per entry. Entries never carry a token or a
password: callers pass the actor's id and a reason. Writing the entry never fails the request.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT

    from spotctl_sandbox.common.redisconn import AsyncAnyRedis

log = logging.getLogger("spotctl_sandbox.audit")

AUDIT_STREAM = "audit"
AUDIT_MAXLEN = 100_000


class AuditEvent(StrEnum):
    AUTH_FAILURE = "auth_failure"  # a failed login, or a token that was refused
    DENIED = "denied"              # authenticated (or anonymous) but not allowed
    ADMIN = "admin"                # an admin action: role grant, artist owner, release for others


async def record(redis: AsyncAnyRedis, event: AuditEvent, *, service: str, actor: str, action: str,
                 reason: str = "", target: str = "", peer: str = "", correlation_id: str = "") -> None:
    fields: dict[FieldT, EncodableT] = {
        "event": event.value, "service": service, "actor": actor or "-", "action": action, "target": target,
        "reason": reason, "peer": peer, "correlation_id": correlation_id, "ts": f"{time.time():.3f}"}
    level = logging.INFO if event is AuditEvent.ADMIN else logging.WARNING
    log.log(level, "audit %s service=%s actor=%s action=%s target=%s reason=%s peer=%s", event.value,
            service, fields["actor"], action, target or "-", reason or "-", peer or "-")
    try:
        await redis.xadd(AUDIT_STREAM, fields, maxlen=AUDIT_MAXLEN, approximate=True)
    except Exception as exc:  # the audit must not turn a refusal into a 500
        log.warning("could not write the audit stream: %s", exc)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def recent(redis: AsyncAnyRedis, count: int = 100, event: AuditEvent | None = None) -> list[dict[str, str]]:
    """Newest first; `event` filters (over the newest 10 x count entries)."""
    rows = await redis.xrevrange(AUDIT_STREAM, count=count if event is None else count * 10) or []
    items = [{_text(k): _text(v) for k, v in (fields or {}).items()} | {"id": _text(i)} for i, fields in rows]
    if event is not None:
        items = [i for i in items if i.get("event") == event.value]
    return items[:count]
