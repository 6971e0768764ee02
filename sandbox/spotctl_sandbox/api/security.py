"""Who is calling: bearer JWT + live Redis session (spotctl_sandbox.common.tokens), then the
per-user rate limit. A refusal is a 401 whose detail says exactly why."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.common import tokens
from spotctl_sandbox.common.tokens import Claims


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


async def _verify(res: Resources, token: str) -> Claims:
    try:
        claims = await tokens.verify(res.redis, res.config.settings.jwt_secret, token)
    except tokens.TokenError as exc:
        raise _unauthorized(exc.reason) from exc
    await res.limits.enforce_user(claims.user_id)
    return claims


async def current_user(request: Request, res: Res) -> Claims:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "missing bearer token (log in at POST /api/auth/login)",
                       headers={"WWW-Authenticate": "Bearer"})
    return await _verify(res, token)


async def optional_user(request: Request, res: Res) -> Claims | None:
    """Anonymous callers are welcome; a token that is present must still be valid."""
    token = bearer_token(request)
    return None if token is None else await _verify(res, token)


User = Annotated[Claims, Depends(current_user)]
MaybeUser = Annotated[Claims | None, Depends(optional_user)]
