"""JWT access tokens shared by the API (which issues them) and the hub (which accepts them).

A token is valid when its signature and expiry check out *and* its session key still exists in
Redis: logout deletes `session:<jti>`, so a revoked token fails everywhere at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS_TTL_S = 3600


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


def session_key(jti: str) -> str:
    return f"session:{jti}"


def encode(secret: str, user_id: str, name: str, ttl_s: int = ACCESS_TTL_S) -> tuple[str, Claims]:
    """Sign a token; the caller stores the session (see `open_session`)."""
    now = int(time.time())
    claims = Claims(user_id=str(user_id), name=name, jti=uuid.uuid4().hex, expires_at=now + ttl_s)
    payload = {"sub": claims.user_id, "name": name, "jti": claims.jti, "iat": now,
               "exp": claims.expires_at, "typ": "access"}
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


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
    return Claims(user_id=str(payload["sub"]), name=str(payload.get("name", "")),
                  jti=str(payload["jti"]), expires_at=int(payload["exp"]))


async def open_session(redis: Any, claims: Claims) -> None:
    """Record the session in Redis (redis.asyncio client) for the token's lifetime."""
    ttl = max(1, claims.expires_at - int(time.time()))
    await redis.set(session_key(claims.jti), claims.user_id, ex=ttl)


async def close_session(redis: Any, jti: str) -> None:
    await redis.delete(session_key(jti))


async def verify(redis: Any, secret: str, token: str) -> Claims:
    """decode() plus the revocation check: the session must still exist."""
    claims = decode(secret, token)
    if not await redis.exists(session_key(claims.jti)):
        raise TokenError("session revoked or unknown (log in again)")
    return claims


async def issue(redis: Any, secret: str, user_id: str, name: str, ttl_s: int = ACCESS_TTL_S) -> str:
    """Sign a token and open its session: what login does, and what tests use to act as a user."""
    token, claims = encode(secret, user_id, name, ttl_s)
    await open_session(redis, claims)
    return token
