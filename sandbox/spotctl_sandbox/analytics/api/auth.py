"""JWT + roles for every analytics route, and the per-user Redis rate limit.

Tokens are the stack's own (common/tokens.py: signature, expiry, the `roles` claim, and the Redis
session that logout revokes). `viewer` reads, `analyst` also writes metrics and dashboards (and
trains models), `admin` also manages alerts; `ops` reads like a viewer (it receives the critical
alerts). A token with none of them (a listener's) is refused with 403 saying what the route needs.

Routers use the annotated dependencies, e.g. `def route(who: Analyst) -> ...` (the ml router too).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any

import redis.exceptions
from fastapi import Depends, Request, WebSocket
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from spotctl_sandbox.analytics.api.errors import ApiError
from spotctl_sandbox.common import tokens

if TYPE_CHECKING:
    from spotctl_sandbox.common.redisconn import AsyncAnyRedis


class Role(IntEnum):
    viewer = 1
    analyst = 2
    admin = 3

    @classmethod
    def of(cls, roles: frozenset[tokens.Role]) -> Role | None:
        """The highest analytics role among the token's roles."""
        ranks = [cls[r.value] for r in roles if r.value in cls.__members__]
        ranks += [cls.viewer for r in roles if r is tokens.Role.OPS]
        return max(ranks) if ranks else None


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: Role


class RateLimiter:
    """A sliding-window limit per user in Redis, shared by every analytics process."""

    def __init__(self, redis_url: str, limit: str) -> None:
        self.item: RateLimitItem = parse(limit)
        self.limiter = SlidingWindowCounterRateLimiter(
            RedisStorage(f"async+{redis_url}", implementation="redispy", socket_connect_timeout=1, socket_timeout=2))

    async def enforce(self, user_id: str) -> None:
        if await self.limiter.hit(self.item, "analytics", user_id):
            return
        stats = await self.limiter.get_window_stats(self.item, "analytics", user_id)
        raise ApiError(429, f"rate limit exceeded for user {user_id} ({self.item})",
                       headers={"Retry-After": str(max(1, math.ceil(stats.reset_time - time.time())))})


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)",
                       headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Authorization must be 'Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def authenticate(app_state: Any, token: str) -> Principal:
    engine = app_state.engine
    try:
        claims = await tokens.verify(engine.redis, engine.config.settings.jwt_secret, token)
    except tokens.TokenError as exc:
        raise ApiError(401, exc.reason, headers={"WWW-Authenticate": "Bearer"}) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise ApiError(503, f"redis: cannot check the session ({exc})") from exc
    role = Role.of(claims.roles)
    if role is None:
        raise ApiError(403, "this token has no analytics role (viewer, analyst or admin)")
    return Principal(claims.user_id, claims.name, role)


def require(role: Role) -> Any:
    async def dependency(request: Request) -> Principal:
        who = await authenticate(request.app.state, bearer(request.headers.get("authorization")))
        if who.role < role:
            raise ApiError(403, f"this route needs role {role.name} or higher; the token has {who.role.name}")
        try:
            await request.app.state.limiter.enforce(who.user_id)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise ApiError(503, f"redis: rate limiter unreachable ({exc})") from exc
        return who

    return dependency


async def websocket_principal(ws: WebSocket, role: Role = Role.viewer) -> Principal:
    """WebSockets carry the token as `?token=` (browsers cannot set headers) or a bearer header."""
    header = ws.headers.get("authorization")
    token = bearer(header) if header else ws.query_params.get("token", "")
    if not token:
        raise ApiError(401, "missing token: connect with ?token=<jwt>")
    who = await authenticate(ws.app.state, token)
    if who.role < role:
        raise ApiError(403, f"this stream needs role {role.name} or higher")
    return who


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Analyst = Annotated[Principal, Depends(require(Role.analyst))]
Admin = Annotated[Principal, Depends(require(Role.admin))]


async def mint(redis: AsyncAnyRedis, secret: str, user_id: str, name: str, roles: list[str],
               ttl_s: int = tokens.ACCESS_TTL_S) -> tuple[str, str]:
    """A stack access token carrying `roles`, with its Redis session: (token, jti).

    For tools that hold the stack's secret (the CLI, tests, the scenario); users get theirs from the
    API's login.
    """
    token, claims = tokens.encode(secret, user_id, name, ttl_s, roles=roles)
    await tokens.open_session(redis, claims)
    return token, claims.jti
