"""Register, log in (argon2 + JWT + Redis session), log out (revokes the session), who am I."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import psycopg.errors
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Request
from pydantic import Field

from spotctl_sandbox.api import roles
from spotctl_sandbox.api.atomic import atomic
from spotctl_sandbox.api.docs import responses
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.routing import Body, text
from spotctl_sandbox.api.routing import router as make_router
from spotctl_sandbox.api.security import Account, Res, audit_event
from spotctl_sandbox.common import tokens
from spotctl_sandbox.common.audit import AuditEvent
from spotctl_sandbox.db.unit import connection
from spotctl_sandbox.events import Topic, outbox

router = make_router("/api/auth", tags=["auth"])

# \x85 (NEL) spelled out: it is whitespace to pydantic's (Rust) regex but not to ECMAScript's \s, so
# the schema's readers would send addresses with it that the API refused (schemathesis found one)
Email = Annotated[str, Field(pattern=r"^[^@\s\x00\x85]+@[^@\s\x00\x85]+\.[^@\s\x00\x85]+$", max_length=254)]


class Register(Body):
    email: Email
    name: str = text(1, 100)
    password: str = text(8, 200)


class Login(Body):
    email: Email
    password: str = text(1, 200)


@router.post("/register", status_code=201, responses=responses(409))
@atomic
async def register(body: Register, res: Res, request: Request) -> dict[str, Any]:
    """The users row and its user_registered event (outbox) commit together."""
    password_hash = await asyncio.to_thread(res.hasher.hash, body.password)
    email = body.email.lower()
    try:
        async with connection(res.pool) as conn:
            cur = await conn.execute(
                "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s) RETURNING id",
                (email, body.name, password_hash))
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise ApiError(409, f"email {email} is already registered") from exc
    assert row is not None
    user_id = str(row[0])
    outbox.emit(outbox.kafka_event(Topic.USER_REGISTERED, {"user_id": user_id, "email": email}, key=user_id))
    return {"id": user_id, "email": email, "name": body.name}


@router.post("/login", responses=responses(401))
async def login(body: Login, res: Res, request: Request) -> dict[str, Any]:
    """A token carrying the account's roles (user, plus any granted: artist, admin, ops)."""
    email = body.email.lower()
    async with res.pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, password_hash FROM users WHERE email = %s", (email,))
        row = await cur.fetchone()
        granted = await roles.roles_of(conn, row[0]) if row else set()
    try:
        if row is None:
            raise VerifyMismatchError
        await asyncio.to_thread(res.hasher.verify, row[2], body.password)
    except (VerifyMismatchError, InvalidHashError) as exc:
        await audit_event(request, res, AuditEvent.AUTH_FAILURE, "", "failed login", target=f"email:{email}")
        raise ApiError(401, "unknown email or wrong password") from exc
    user_id, name = row[0], row[1]
    token = await tokens.issue(res.redis, res.config.settings.jwt_secret, str(user_id), name, roles=granted)
    return {"access_token": token, "token_type": "bearer", "expires_in": tokens.ACCESS_TTL_S,
            "user": {"id": str(user_id), "name": name, "email": email, "roles": sorted(granted)}}


@router.post("/logout", status_code=204, responses=responses(401))
async def logout(user: Account, res: Res) -> None:
    await tokens.close_session(res.redis, user.jti)


@router.get("/me", responses=responses(401))
async def me(user: Account) -> dict[str, Any]:
    return {"id": user.user_id, "name": user.name, "roles": sorted(user.roles),
            "session_expires_at": user.expires_at}
