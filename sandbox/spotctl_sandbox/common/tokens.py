"""JWT access tokens shared by the API (which issues them) and the hub (which accepts them).

A token is valid when its signature and expiry check out *and* its session key still exists in
Redis: logout deletes `session:<jti>`, so a revoked token fails everywhere at once.

Claims beyond the registered ones:
  roles  list of `Role` values (user, artist, admin, ops); a token without it is a plain user's,
         so tokens minted before roles existed keep working. Unknown roles make the token malformed.
  ns     the tenants (hub namespaces) the token is limited to: a string or a list of strings.
         Absent means any tenant; `null`, numbers and empty lists are refused, never read as "any".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from spotctl_sandbox.common.redisconn import AsyncAnyRedis

ALGORITHM = "HS256"
ACCESS_TTL_S = 3600


class Role(StrEnum):
    USER = "user"        # listens, keeps playlists, follows artists
    ARTIST = "artist"    # may create artist profiles of its own and release for them
    ADMIN = "admin"      # grants roles, assigns artists, publishes for any artist, moderates
    OPS = "ops"          # receives CRITICAL alerts (hub notifications)
    ANALYST = "analyst"  # the analytics API: writes metrics and dashboards, trains models
    VIEWER = "viewer"    # the analytics API: reads metrics, dashboards and alerts


DEFAULT_ROLES = frozenset({Role.USER})


class TokenError(Exception):
    """The token cannot be accepted; `reason` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    user_id: str
    name: str
    jti: str
    expires_at: int
    roles: frozenset[Role] = DEFAULT_ROLES
    namespaces: frozenset[str] | None = None  # None: any tenant

    def has(self, role: Role) -> bool:
        return role in self.roles


def session_key(jti: str) -> str:
    return f"session:{jti}"


def encode(secret: str, user_id: str, name: str, ttl_s: int = ACCESS_TTL_S,
           roles: Iterable[Role | str] = DEFAULT_ROLES, namespaces: Iterable[str] | None = None,
           ) -> tuple[str, Claims]:
    """Sign a token; the caller stores the session (see `open_session`)."""
    now = int(time.time())
    claims = Claims(user_id=str(user_id), name=name, jti=uuid.uuid4().hex, expires_at=now + ttl_s,
                    roles=parse_roles(sorted(str(r) for r in roles)),
                    namespaces=None if namespaces is None else frozenset(namespaces))
    payload: dict[str, Any] = {"sub": claims.user_id, "name": name, "jti": claims.jti, "iat": now,
                               "exp": claims.expires_at, "typ": "access", "roles": sorted(claims.roles)}
    if claims.namespaces is not None:
        payload["ns"] = sorted(claims.namespaces)
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def parse_roles(value: Any) -> frozenset[Role]:
    """The `roles` claim as a set of Role; TokenError for anything but a list of known role names."""
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise TokenError("token claim 'roles' must be a list of role names")
    unknown = sorted(set(value) - {r.value for r in Role})
    if unknown:
        raise TokenError(f"token claim 'roles' has unknown roles {unknown}")
    return frozenset(Role(r) for r in value)


def parse_namespaces(payload: dict[str, Any]) -> frozenset[str] | None:
    if "ns" not in payload:
        return None
    value = payload["ns"]
    if isinstance(value, str) and value:
        return frozenset({value})
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return frozenset(value)
    raise TokenError("token claim 'ns' must be a tenant name or a non-empty list of them")


def decode(secret: str, token: str) -> Claims:
    """Check signature, expiry and shape; raise TokenError with the reason otherwise."""
    try:
        payload: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM],
                                             options={"require": ["sub", "exp", "jti"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature is invalid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"token is missing the '{exc.claim}' claim") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token is malformed: {exc}") from exc
    if payload.get("typ", "access") != "access":
        raise TokenError("not an access token")
    if not isinstance(payload["jti"], str) or not payload["jti"]:
        raise TokenError("token claim 'jti' must be a non-empty string")
    roles = parse_roles(payload["roles"]) if "roles" in payload else DEFAULT_ROLES
    return Claims(user_id=str(payload["sub"]), name=str(payload.get("name", "")),
                  jti=payload["jti"], expires_at=int(payload["exp"]), roles=roles,
                  namespaces=parse_namespaces(payload))


async def open_session(redis: AsyncAnyRedis, claims: Claims) -> None:
    """Record the session in Redis (redis.asyncio client) for the token's lifetime."""
    ttl = max(1, claims.expires_at - int(time.time()))
    await redis.set(session_key(claims.jti), claims.user_id, ex=ttl)


async def close_session(redis: AsyncAnyRedis, jti: str) -> None:
    await redis.delete(session_key(jti))


async def verify(redis: AsyncAnyRedis, secret: str, token: str) -> Claims:
    """decode() plus the revocation check: the session must still exist."""
    claims = decode(secret, token)
    if not await redis.exists(session_key(claims.jti)):
        raise TokenError("session revoked or unknown (log in again)")
    return claims


async def issue(redis: AsyncAnyRedis, secret: str, user_id: str, name: str, ttl_s: int = ACCESS_TTL_S,
                roles: Iterable[Role | str] = DEFAULT_ROLES) -> str:
    """Sign a token and open its session: what login does, and what tests use to act as a user."""
    token, claims = encode(secret, user_id, name, ttl_s, roles=roles)
    await open_session(redis, claims)
    return token
