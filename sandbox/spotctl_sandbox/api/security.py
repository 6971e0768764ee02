"""Who is calling: bearer JWT + live Redis session (spotctl_sandbox.common.tokens), then the
per-user rate limit. A refusal is a 401 whose detail says exactly why; a missing role is a 403.
Refused tokens and missing roles go to the audit log (spotctl_sandbox.common.audit).

The API's callers are user accounts: a token whose subject is not an account id (the hub accepts
any subject, e.g. `spotctl hub --user alice`) is refused here with a 401, not a 500.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from spotctl_sandbox.api.docs import BEARER
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.middleware import client_ip
from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.common import audit, tokens
from spotctl_sandbox.common.tokens import Claims, Role

ACCOUNT_ID = re.compile(r"[1-9][0-9]{0,17}")  # a users.id (bigint), as the token's subject

# Declares the bearer scheme in the OpenAPI document; the header itself is parsed below, so the
# 401s can say precisely what is wrong.
bearer_scheme = HTTPBearer(scheme_name=BEARER, bearerFormat="JWT", auto_error=False,
                           description="Access token from POST /api/auth/login")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def get_resources(request: Request) -> Resources:
    """Async on purpose: FastAPI runs plain `def` dependencies in a worker thread (measured: ~4x
    the CPU of this whole lookup)."""
    res: Resources = request.app.state.resources
    return res


Res = Annotated[Resources, Depends(get_resources)]


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, reason, headers={
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'})


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def action_of(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


async def audit_event(request: Request, res: Resources, event: audit.AuditEvent, actor: str, reason: str,
                      target: str = "") -> None:
    await audit.record(res.redis, event, service="api", actor=actor, action=action_of(request),
                       reason=reason, target=target, peer=client_ip(request.scope),
                       correlation_id=request.headers.get("x-request-id", ""))


async def _verify(request: Request, res: Resources, token: str) -> Claims:
    try:
        claims = await tokens.verify(res.redis, res.config.settings.jwt_secret, token)
        if not ACCOUNT_ID.fullmatch(claims.user_id):
            raise tokens.TokenError(f"token subject {claims.user_id[:40]!r} is not a user account of this API "
                                    "(log in at POST /api/auth/login)")
    except tokens.TokenError as exc:
        await audit_event(request, res, audit.AuditEvent.AUTH_FAILURE, "", exc.reason)
        raise _unauthorized(exc.reason) from exc
    await res.limits.enforce_user(claims.user_id)
    return claims


async def current_user(request: Request, res: Res, _: Credentials) -> Claims:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "missing bearer token (log in at POST /api/auth/login)",
                       headers={"WWW-Authenticate": "Bearer"})
    return await _verify(request, res, token)


async def optional_user(request: Request, res: Res, _: Credentials) -> Claims | None:
    """Anonymous callers are welcome; a token that is present must still be valid."""
    token = bearer_token(request)
    return None if token is None else await _verify(request, res, token)


def requires(*roles: Role) -> Callable[..., Awaitable[Claims]]:
    """A dependency: the caller is authenticated and holds one of `roles` (403 naming them otherwise)."""

    async def check(request: Request, res: Res, user: Annotated[Claims, Depends(current_user)]) -> Claims:
        if not any(user.has(r) for r in roles):
            needed = " or ".join(sorted(r.value for r in roles))
            reason = f"this needs the {needed} role (yours: {', '.join(sorted(user.roles)) or 'none'})"
            await audit_event(request, res, audit.AuditEvent.DENIED, user.user_id, reason)
            raise ApiError(403, reason)
        return user

    return check


async def deny(request: Request, res: Resources, user: Claims | None, status: int, reason: str,
               target: str = "") -> ApiError:
    """Audit an authorization denial and return the error to raise."""
    await audit_event(request, res, audit.AuditEvent.DENIED, user.user_id if user else "", reason, target)
    return ApiError(status, reason)


Account = Annotated[Claims, Depends(current_user)]             # any valid account token (read routes)
User = Annotated[Claims, Depends(requires(Role.USER))]         # writes a listener makes
Admin = Annotated[Claims, Depends(requires(Role.ADMIN))]
MaybeUser = Annotated[Claims | None, Depends(optional_user)]
