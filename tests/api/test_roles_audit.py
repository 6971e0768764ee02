"""Roles and the audit log: admins grant roles (effective at the next login), artists release only
for artists they own, and refusals and admin actions land in the audit log that admins read."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.api.conftest import ApiUser, register_and_login, with_role

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def audit(http: httpx.AsyncClient, admin: ApiUser, event: str) -> list[dict[str, str]]:
    resp = await http.get("/api/admin/audit", headers=admin.auth, params={"event": event, "limit": 50})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def test_a_granted_role_arrives_with_the_next_login(http: httpx.AsyncClient, admin: ApiUser) -> None:
    user = await register_and_login(http)
    resp = await http.put(f"/api/admin/users/{user.id}/roles/artist", headers=admin.auth)
    assert resp.status_code == 200 and resp.json()["granted"] is True
    assert (await http.post("/api/artists", headers=user.auth, json={"name": "Too early"})).status_code == 403
    login = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert login.json()["user"]["roles"] == ["artist", "user"]
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = await http.post("/api/artists", headers=token, json={"name": "Fresh Act", "genre": "pop"})
    assert made.status_code == 201 and made.json()["owner_user_id"] == user.id
    granted = await audit(http, admin, "admin")
    assert any(e["target"] == f"user:{user.id}" and e["reason"] == "granted role artist" and e["actor"] == admin.id
               for e in granted)


async def test_granting_to_an_unknown_user_is_404(http: httpx.AsyncClient, admin: ApiUser) -> None:
    resp = await http.put("/api/admin/users/999999999/roles/ops", headers=admin.auth)
    assert resp.status_code == 404 and resp.json()["detail"] == "user 999999999 not found"


async def test_an_artist_releases_only_for_its_own_artists(http: httpx.AsyncClient, pg: psycopg.Connection,
                                                           admin: ApiUser, notifications: object) -> None:
    artist_user = await with_role(http, pg, "artist")
    own = (await http.post("/api/artists", headers=artist_user.auth, json={"name": "Own"})).json()["id"]
    ok = await http.post("/api/releases", headers=artist_user.auth, json={"artist_id": own, "title": "Mine"})
    assert ok.status_code == 201, ok.text
    title = f"Not mine {uuid.uuid4().hex[:6]}"
    refused = await http.post("/api/releases", headers=artist_user.auth, json={"artist_id": 3, "title": title})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "only the owner of artist 3 (or an admin) may release for it"
    assert pg.execute("SELECT 1 FROM songs WHERE title = %s", (title,)).fetchone() is None
    denied = await audit(http, admin, "denied")
    assert any(e["actor"] == artist_user.id and e["action"] == "POST /api/releases" and e["target"] == "artist:3"
               for e in denied)

    assigned = await http.put("/api/artists/3/owner", headers=admin.auth, json={"user_id": int(artist_user.id)})
    assert assigned.status_code == 200 and assigned.json()["owner_user_id"] == artist_user.id
    now_ok = await http.post("/api/releases", headers=artist_user.auth, json={"artist_id": 3, "title": title})
    assert now_ok.status_code == 201, now_ok.text
    await http.put("/api/artists/3/owner", headers=admin.auth, json={"user_id": None})


async def test_playlist_denials_and_admin_deletes_are_audited(http: httpx.AsyncClient, admin: ApiUser,
                                                             user: ApiUser) -> None:
    pid = (await http.post("/api/playlists", headers=user.auth, json={"name": "Audited"})).json()["id"]
    other = await register_and_login(http)
    assert (await http.patch(f"/api/playlists/{pid}", headers=other.auth, json={"name": "x"})).status_code == 404
    assert (await http.delete(f"/api/playlists/{pid}", headers=admin.auth)).status_code == 204
    denied = await audit(http, admin, "denied")
    assert any(e["actor"] == other.id and e["target"] == f"playlist:{pid}" and e["reason"].endswith("not found")
               for e in denied)
    admin_acts = await audit(http, admin, "admin")
    assert any(e["actor"] == admin.id and e["target"] == f"playlist:{pid}" for e in admin_acts)


async def test_the_audit_log_is_for_admins_and_records_failed_logins(http: httpx.AsyncClient, admin: ApiUser,
                                                                     user: ApiUser) -> None:
    refused = await http.get("/api/admin/audit", headers=user.auth)
    assert refused.status_code == 403 and refused.json()["detail"].startswith("this needs the admin role")
    await http.post("/api/auth/login", json={"email": user.email, "password": "wrong password"})
    failures = await audit(http, admin, "auth_failure")
    assert any(e["target"] == f"email:{user.email}" and e["reason"] == "failed login" for e in failures)
    assert any(e["actor"] == user.id and e["action"] == "GET /api/admin/audit"
               for e in await audit(http, admin, "denied"))
    assert all("eyJ" not in value for e in failures for value in e.values())


async def test_an_admin_cannot_revoke_its_own_admin_role(http: httpx.AsyncClient, admin: ApiUser) -> None:
    resp = await http.delete(f"/api/admin/users/{admin.id}/roles/admin", headers=admin.auth)
    assert resp.status_code == 409


async def test_the_bootstrap_admin_from_the_environment_logs_in(http: httpx.AsyncClient,
                                                               api_env: dict[str, str]) -> None:
    if not api_env.get("ADMIN_EMAIL"):
        pytest.skip("ADMIN_EMAIL is not set for this API")
    login = await http.post("/api/auth/login", json={"email": api_env["ADMIN_EMAIL"],
                                                     "password": api_env["ADMIN_PASSWORD"]})
    assert login.status_code == 200 and "admin" in login.json()["user"]["roles"]
