"""Token edge cases at the API: subjects that are not accounts, `ns` and `roles` claims of the wrong
shape. Each is a 401 saying why (never a 500), and the refusal is in the audit log."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from redis.asyncio import Redis

from spotctl_sandbox.common import tokens
from tests.api.conftest import ApiUser

pytestmark = [pytest.mark.stack]


async def signed(redis: Redis, secret: str, **claims: Any) -> str:
    """A correctly signed token with a live session and these claims (over sane defaults)."""
    jti = uuid.uuid4().hex
    payload = {"sub": "1", "jti": jti, "exp": int(time.time()) + 300, "name": "edge", **claims}
    await redis.set(tokens.session_key(jti), str(payload["sub"]), ex=300)
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.mark.parametrize("route", [("GET", "/api/auth/me"), ("GET", "/api/me/following"),
                                   ("GET", "/api/me/recently-played"), ("GET", "/api/playlists"),
                                   ("POST", "/api/artists/3/follow"), ("POST", "/api/songs/1/play")])
async def test_a_subject_that_is_no_account_is_401(http: httpx.AsyncClient, redis: Redis, api_env: dict[str, str],
                                                   route: tuple[str, str]) -> None:
    token = await tokens.issue(redis, api_env["JWT_SECRET"], "alice", "alice")  # what `spotctl hub --user alice` mints
    resp = await http.request(*route, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
    assert "token subject 'alice' is not a user account" in resp.json()["detail"]


@pytest.mark.parametrize(("claims", "reason"), [
    ({"ns": None}, "token claim 'ns' must be"),
    ({"ns": 7}, "token claim 'ns' must be"),
    ({"ns": []}, "token claim 'ns' must be"),
    ({"ns": ["a", 1]}, "token claim 'ns' must be"),
    ({"roles": "admin"}, "token claim 'roles' must be a list"),
    ({"roles": ["user", "root"]}, "token claim 'roles' has unknown roles ['root']"),
])
async def test_claims_of_the_wrong_shape_are_401(http: httpx.AsyncClient, redis: Redis, api_env: dict[str, str],
                                                 claims: dict[str, Any], reason: str) -> None:
    token = await signed(redis, api_env["JWT_SECRET"], **claims)
    resp = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.json()["detail"].startswith(reason), resp.text


def test_ns_and_roles_round_trip_through_the_token() -> None:
    token, _ = tokens.encode("s" * 32, "7", "n", roles=["user", "ops"], namespaces=["acme"])
    claims = tokens.decode("s" * 32, token)
    assert claims.roles == {tokens.Role.USER, tokens.Role.OPS} and claims.namespaces == {"acme"}
    legacy = jwt.encode({"sub": "7", "jti": "j", "exp": int(time.time()) + 60}, "s" * 32, algorithm="HS256")
    assert tokens.decode("s" * 32, legacy).roles == {tokens.Role.USER}  # tokens from before roles
    assert tokens.decode("s" * 32, legacy).namespaces is None


async def test_login_puts_the_granted_roles_in_the_token(http: httpx.AsyncClient, admin: ApiUser,
                                                         api_env: dict[str, str]) -> None:
    me = (await http.get("/api/auth/me", headers=admin.auth)).json()
    assert me["roles"] == ["admin", "user"]
    assert tokens.decode(api_env["JWT_SECRET"], admin.token).roles == {tokens.Role.ADMIN, tokens.Role.USER}
