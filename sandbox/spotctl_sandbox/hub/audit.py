"""The hub's entries in the stack's one audit log (`spotctl_sandbox.common.audit`, which admins read
through the API's /admin/audit): refused authentications, authorization denials, and what was allowed
only because the user is an admin. Entries carry reasons, user ids, peers and the tenant, never tokens;
writing one never fails the caller."""

from __future__ import annotations

from spotctl_sandbox.common import audit
from spotctl_sandbox.common.audit import AuditEvent
from spotctl_sandbox.common.redisconn import AsyncAnyRedis

SERVICE = "hub"


async def auth_failure(redis: AsyncAnyRedis, *, ns: str, reason: str, peer: str, user_id: str = "") -> None:
    await audit.record(redis, AuditEvent.AUTH_FAILURE, service=SERVICE, actor=user_id, action="connect",
                       reason=reason, peer=peer, target=f"ns:{ns}")


async def denied(redis: AsyncAnyRedis, *, ns: str, user_id: str, kind: str, reason: str) -> None:
    """An authenticated user asked for something it may not do (a `forbidden` answer)."""
    await audit.record(redis, AuditEvent.DENIED, service=SERVICE, actor=user_id, action=kind, reason=reason,
                       target=f"ns:{ns}")


async def admin_action(redis: AsyncAnyRedis, *, ns: str, user_id: str, kind: str, target: str) -> None:
    """Something allowed only because the user holds the admin role (e.g. opening a private playlist)."""
    await audit.record(redis, AuditEvent.ADMIN, service=SERVICE, actor=user_id, action=kind, target=target,
                       reason=f"ns:{ns}")


recent = audit.recent
