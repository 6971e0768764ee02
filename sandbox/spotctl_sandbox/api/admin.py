"""Admin routes: grant and revoke roles, and read the audit log. Every change is itself audited."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg.errors
from fastapi import Path, Query, Request

from spotctl_sandbox.api import roles
from spotctl_sandbox.api.atomic import after_commit, atomic
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Admin, Res, audit_event
from spotctl_sandbox.common import audit
from spotctl_sandbox.common.tokens import Role
from spotctl_sandbox.db.unit import connection

router = make_router("/api/admin", tags=["admin"], errors=(401, 403, 404))

UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="user id")]


@router.put("/users/{user_id}/roles/{role}", summary="Grant a role (effective at the user's next login)")
@atomic
async def grant_role(user_id: UserId, role: Role, admin: Admin, res: Res, request: Request) -> dict[str, Any]:
    if role is Role.USER:
        return {"user_id": str(user_id), "role": role.value, "granted": False, "note": "every account is a user"}
    try:
        async with connection(res.pool) as conn:
            new = await roles.grant(conn, user_id, role, int(admin.user_id))
    except psycopg.errors.ForeignKeyViolation as exc:
        raise ApiError(404, f"user {user_id} not found") from exc
    if new:
        after_commit(lambda: audit_event(request, res, audit.AuditEvent.ADMIN, admin.user_id,
                                         f"granted role {role.value}", target=f"user:{user_id}"))
    return {"user_id": str(user_id), "role": role.value, "granted": new}


@router.delete("/users/{user_id}/roles/{role}", summary="Revoke a role (effective at the user's next login)")
@atomic
async def revoke_role(user_id: UserId, role: Role, admin: Admin, res: Res, request: Request) -> dict[str, Any]:
    if role is Role.USER:
        raise ApiError(409, "every account is a user; the user role cannot be revoked")
    if role is Role.ADMIN and str(user_id) == admin.user_id:
        raise ApiError(409, "admins cannot revoke their own admin role (ask another admin)")
    async with connection(res.pool) as conn:
        removed = await roles.revoke(conn, user_id, role)
    if removed:
        after_commit(lambda: audit_event(request, res, audit.AuditEvent.ADMIN, admin.user_id,
                                         f"revoked role {role.value}", target=f"user:{user_id}"))
    return {"user_id": str(user_id), "role": role.value, "revoked": removed}


@router.get("/audit", summary="The audit log, newest first")
async def audit_log(admin: Admin, res: Res, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    event: audit.AuditEvent | None = None) -> dict[str, Any]:
    return {"items": await audit.recent(res.redis, limit, event)}
