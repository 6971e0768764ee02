"""The authorization matrix: every API write route x owner, collaborator (member), other user,
anonymous and admin, against a fresh private playlist (or artist) per cell, with the status each
must get. A refusal of a private playlist is a 404 (it does not exist for that caller)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.api.conftest import ApiUser, register_and_login, with_role

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]

ACTORS = ("owner", "member", "other", "anonymous", "admin")


@dataclass
class Cast:
    owner: ApiUser
    member: ApiUser
    other: ApiUser
    admin: ApiUser

    def headers(self, actor: str) -> dict[str, str]:
        return {} if actor == "anonymous" else getattr(self, actor).auth


@pytest.fixture(scope="module")
async def cast(http: httpx.AsyncClient, admin: ApiUser) -> Cast:
    return Cast(await register_and_login(http), await register_and_login(http), await register_and_login(http), admin)


async def shared_playlist(http: httpx.AsyncClient, cast: Cast) -> tuple[str, str]:
    """A private playlist of `owner` with `member` as collaborator, and its share link."""
    pid = (await http.post("/api/playlists", headers=cast.owner.auth, json={"name": "M", "song_ids": [1]})).json()["id"]
    assert (await http.post(f"/api/playlists/{pid}/invites", headers=cast.owner.auth,
                            json={"user_id": cast.member.id})).status_code == 200
    assert (await http.post(f"/api/playlists/{pid}/accept", headers=cast.member.auth)).status_code == 200
    link = (await http.post(f"/api/playlists/{pid}/link", headers=cast.owner.auth)).json()["link"]
    return pid, link


#                route                                      owner member other anonymous admin
PLAYLIST_ROUTES: list[tuple[str, str, str | None, tuple[int, ...]]] = [
    ("PATCH", "/api/playlists/{pid}", "rename",               (200, 200, 404, 401, 403)),
    ("POST", "/api/playlists/{pid}/songs", "song",            (200, 200, 404, 401, 403)),
    ("DELETE", "/api/playlists/{pid}", None,                  (204, 403, 404, 401, 204)),
    ("POST", "/api/playlists/{pid}/invites", "other",         (200, 403, 404, 401, 403)),
    ("POST", "/api/playlists/{pid}/accept", None,             (403, 200, 404, 401, 403)),
    ("POST", "/api/playlists/{pid}/leave", None,              (403, 200, 404, 401, 403)),
    ("DELETE", "/api/playlists/{pid}/members/{member}", None, (200, 403, 404, 401, 403)),
    ("POST", "/api/playlists/{pid}/link", None,               (201, 403, 404, 401, 403)),
    ("DELETE", "/api/playlists/{pid}/link", None,             (204, 403, 404, 401, 403)),
    ("POST", "/api/playlists/{pid}/join", "link",             (200, 200, 200, 401, 200)),
]
CELLS = [((m, p, b), actor, codes[i]) for m, p, b, codes in PLAYLIST_ROUTES for i, actor in enumerate(ACTORS)]


@pytest.mark.parametrize(("route", "actor", "expected"), CELLS,
                         ids=[f"{r[0]} {r[1]} as {a}" for r, a, _ in CELLS])
async def test_playlist_write_routes(http: httpx.AsyncClient, cast: Cast, route: tuple[str, str, str | None],
                                     actor: str, expected: int) -> None:
    method, path, body = route
    pid, link = await shared_playlist(http, cast)
    payload = None if body is None else {"rename": {"name": "N"}, "song": {"song_id": 2},
                                         "other": {"user_id": cast.other.id}, "link": {"link": link}}[body]
    url = path.format(pid=pid, member=cast.member.id)
    resp = await http.request(method, url, headers=cast.headers(actor), json=payload)
    assert resp.status_code == expected, resp.text


async def test_creating_a_playlist_needs_an_account(http: httpx.AsyncClient, cast: Cast) -> None:
    for actor in ACTORS:
        resp = await http.post("/api/playlists", headers=cast.headers(actor), json={"name": "Mine"})
        assert resp.status_code == (401 if actor == "anonymous" else 201), (actor, resp.text)


@pytest.fixture(scope="module")
async def artist_cast(http: httpx.AsyncClient, pg: psycopg.Connection, cast: Cast) -> tuple[Cast, int]:
    """owner: an artist-role user who owns a fresh artist; member: an artist-role user who does not."""
    owner = await with_role(http, pg, "artist")
    member = await with_role(http, pg, "artist")
    made = await http.post("/api/artists", headers=owner.auth, json={"name": f"Matrix {uuid.uuid4().hex[:6]}"})
    assert made.status_code == 201 and made.json()["owner_user_id"] == owner.id, made.text
    return Cast(owner, member, cast.other, cast.admin), int(made.json()["id"])


#              owner member other anonymous admin
OTHER_ROUTES = {
    "release":    (201, 403, 403, 401, 201),
    "set owner":  (403, 403, 403, 401, 200),
    "new artist": (201, 201, 403, 401, 201),
    "grant role": (403, 403, 403, 401, 200),
    "revoke role": (403, 403, 403, 401, 200),
    "follow":     (200, 200, 200, 401, 200),
    "unfollow":   (200, 200, 200, 401, 200),
    "play":       (200, 200, 200, 401, 200),
    "logout":     (204, 204, 204, 401, None),  # admin's session is shared by the module: not logged out
}
OTHER_CELLS = [(name, actor, codes[i]) for name, codes in OTHER_ROUTES.items()
               for i, actor in enumerate(ACTORS) if codes[i] is not None]


@pytest.mark.parametrize(("name", "actor", "expected"), OTHER_CELLS,
                         ids=[f"{n} as {a}" for n, a, _ in OTHER_CELLS])
async def test_other_write_routes(http: httpx.AsyncClient, artist_cast: tuple[Cast, int], name: str, actor: str,
                                  expected: int, notifications: object) -> None:
    people, artist = artist_cast
    if name == "logout":  # fresh logins, so the other cells keep their tokens
        people = Cast(await relogin(http, people.owner), await relogin(http, people.member),
                      await relogin(http, people.other), people.admin)
    requests = {
        "release": ("POST", "/api/releases", {"artist_id": artist, "title": f"T {uuid.uuid4().hex[:6]}"}),
        "set owner": ("PUT", f"/api/artists/{artist}/owner", {"user_id": int(people.owner.id)}),
        "new artist": ("POST", "/api/artists", {"name": "A"}),
        "grant role": ("PUT", f"/api/admin/users/{people.other.id}/roles/ops", None),
        "revoke role": ("DELETE", f"/api/admin/users/{people.other.id}/roles/ops", None),
        "follow": ("POST", f"/api/artists/{artist}/follow", None),
        "unfollow": ("DELETE", f"/api/artists/{artist}/follow", None),
        "play": ("POST", "/api/songs/1/play", None),
        "logout": ("POST", "/api/auth/logout", None),
    }
    method, path, body = requests[name]
    resp = await http.request(method, path, headers=people.headers(actor), json=body)
    assert resp.status_code == expected, resp.text


async def relogin(http: httpx.AsyncClient, user: ApiUser) -> ApiUser:
    login = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    return ApiUser(id=user.id, email=user.email, password=user.password, token=login.json()["access_token"])
