"""Register, log in (argon2 + JWT + Redis session), log out (revokes the session), who am I."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import psycopg.errors
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import APIRouter
from pydantic import BaseModel, Field

from spotctl_sandbox.api import metrics
from spotctl_sandbox.api.errors import ApiError
from spotctl_sandbox.api.security import Res, User
from spotctl_sandbox.common import tokens
from spotctl_sandbox.events import Topic

router = APIRouter(prefix="/api/auth", tags=["auth"])

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class Register(BaseModel):
    email: Email
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)


class Login(BaseModel):
    email: Email
    password: str = Field(min_length=1, max_length=200)


@router.post("/register", status_code=201)
async def register(body: Register, res: Res) -> dict[str, Any]:
    password_hash = await asyncio.to_thread(res.hasher.hash, body.password)
    email = body.email.lower()
    try:  # the event is published inside the transaction: no user without its user_registered event
        async with res.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s) RETURNING id",
                (email, body.name, password_hash))
            row = await cur.fetchone()
            assert row is not None
            user_id = str(row[0])
            event = await res.kafka.send(Topic.USER_REGISTERED, {"user_id": user_id, "email": email},
                                         key=user_id)
    except psycopg.errors.UniqueViolation as exc:
        raise ApiError(409, f"email {email} is already registered") from exc
    metrics.EVENTS.labels(event.topic).inc()
    return {"id": user_id, "email": email, "name": body.name}


@router.post("/login")
async def login(body: Login, res: Res) -> dict[str, Any]:
    async with res.pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, password_hash FROM users WHERE email = %s",
                                 (body.email.lower(),))
        row = await cur.fetchone()
    if row is None:
        raise ApiError(401, "unknown email or wrong password")
    user_id, name, password_hash = row
    try:
        await asyncio.to_thread(res.hasher.verify, password_hash, body.password)
    except (VerifyMismatchError, InvalidHashError) as exc:
        raise ApiError(401, "unknown email or wrong password") from exc
    token = await tokens.issue(res.redis, res.config.settings.jwt_secret, str(user_id), name)
    return {"access_token": token, "token_type": "bearer", "expires_in": tokens.ACCESS_TTL_S,
            "user": {"id": str(user_id), "name": name, "email": body.email.lower()}}


@router.post("/logout", status_code=204)
async def logout(user: User, res: Res) -> None:
    await tokens.close_session(res.redis, user.jti)


@router.get("/me")
async def me(user: User) -> dict[str, Any]:
    return {"id": user.user_id, "name": user.name, "session_expires_at": user.expires_at}
