"""Auth: argon2 users in PostgreSQL, JWT + Redis session, logout revokes, 401 says why, 422 names the field."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from redis.asyncio import Redis

from spotctl_sandbox.common import tokens
from tests.api.conftest import ApiUser

# the sandbox's default dev secret is shorter than PyJWT recommends; that is the deployment's choice
pytestmark = [pytest.mark.stack, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]


async def test_register_stores_an_argon2_hash_and_login_opens_a_redis_session(
        http: httpx.AsyncClient, pg: psycopg.Connection, redis: Redis, api_env: dict[str, str]) -> None:
    email = f"t-{uuid.uuid4().hex[:10]}@test.spotctl.dev"
    created = await http.post("/api/auth/register", json={"email": email, "name": "Ada", "password": "s3cret-pass"})
    assert created.status_code == 201
    row = pg.execute("SELECT id, name, password_hash FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None and str(row[0]) == created.json()["id"] and row[1] == "Ada"
    assert row[2].startswith("$argon2id$")

    login = await http.post("/api/auth/login", json={"email": email, "password": "s3cret-pass"})
    assert login.status_code == 200
    claims = tokens.decode(api_env["JWT_SECRET"], login.json()["access_token"])
    assert claims.user_id == str(row[0])
    ttl = await redis.ttl(f"session:{claims.jti}")
    assert 0 < ttl <= tokens.ACCESS_TTL_S


async def test_duplicate_email_is_409(http: httpx.AsyncClient, user: ApiUser) -> None:
    again = await http.post("/api/auth/register", json={"email": user.email, "name": "X", "password": "whatever12"})
    assert again.status_code == 409
    assert user.email in again.json()["detail"]


async def test_wrong_password_is_401(http: httpx.AsyncClient, user: ApiUser) -> None:
    resp = await http.post("/api/auth/login", json={"email": user.email, "password": "wrong-password"})
    assert resp.status_code == 401
    assert resp.json()["detail"] == "unknown email or wrong password"


async def test_malformed_body_is_422_naming_each_field(http: httpx.AsyncClient) -> None:
    resp = await http.post("/api/auth/register", json={"email": "not-an-email", "name": "X"})
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"body.email", "body.password"}
    assert "body.password" in resp.json()["detail"]


async def test_logout_revokes_the_token(http: httpx.AsyncClient, user: ApiUser) -> None:
    assert (await http.get("/api/auth/me", headers=user.auth)).status_code == 200
    assert (await http.post("/api/auth/logout", headers=user.auth)).status_code == 204
    after = await http.get("/api/auth/me", headers=user.auth)
    assert after.status_code == 401
    assert after.json()["detail"] == "session revoked or unknown (log in again)"


@pytest.mark.parametrize(("make_header", "reason"), [
    (lambda secret: None, "missing bearer token"),
    (lambda secret: "Basic abc", "Authorization header must be 'Bearer <token>'"),
    (lambda secret: "Bearer not.a.jwt", "token is malformed"),
    (lambda secret: "Bearer " + tokens.encode("another-secret", "1", "x")[0], "token signature is invalid"),
    (lambda secret: "Bearer " + tokens.encode(secret, "1", "x", ttl_s=-30)[0], "token expired"),
])
async def test_bad_tokens_are_401_with_the_reason(http: httpx.AsyncClient, api_env: dict[str, str],
                                                  make_header: object, reason: str) -> None:
    header = make_header(api_env["JWT_SECRET"])  # type: ignore[operator]
    resp = await http.get("/api/auth/me", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
    assert resp.json()["detail"].startswith(reason)
    assert resp.headers["www-authenticate"].startswith("Bearer")


async def test_broken_json_is_422_saying_where(http: httpx.AsyncClient) -> None:
    resp = await http.post("/api/auth/login", content=b'{"email": "a@b.io", "password": ',
                           headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith("body: invalid JSON at character 32")
