"""Sharing playlists over HTTP: invite by user and accept, share links, public playlists, members
leaving or removed, and concurrent edits by owner and collaborators that all land."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from tests.api.conftest import ApiUser, register_and_login

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("seeded")]


async def new_playlist(http: httpx.AsyncClient, owner: ApiUser, **extra: object) -> str:
    resp = await http.post("/api/playlists", headers=owner.auth, json={"name": "Together", **extra})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def test_invite_accept_edit_and_leave(http: httpx.AsyncClient, user: ApiUser) -> None:
    friend = await register_and_login(http)
    pid = await new_playlist(http, user)

    invited = await http.post(f"/api/playlists/{pid}/invites", headers=user.auth, json={"user_id": friend.id})
    assert invited.status_code == 200 and [i["user_id"] for i in invited.json()["invites"]] == [friend.id]
    library = (await http.get("/api/playlists", headers=friend.auth)).json()["items"]
    assert [(p["id"], p["your_role"]) for p in library] == [(pid, "invited")]
    assert "invites" not in library[0]  # only the owner sees who is invited
    assert (await http.post(f"/api/playlists/{pid}/songs", headers=friend.auth, json={"song_id": 5})).status_code == 403

    accepted = await http.post(f"/api/playlists/{pid}/accept", headers=friend.auth)
    assert accepted.status_code == 200 and accepted.json()["your_role"] == "collaborator"
    added = await http.post(f"/api/playlists/{pid}/songs", headers=friend.auth, json={"song_id": 5})
    assert added.status_code == 200 and added.json()["song_ids"] == [5]
    mine = (await http.get(f"/api/playlists/{pid}", headers=user.auth)).json()
    assert mine["song_ids"] == [5] and mine["collaborators"] == [friend.id] and mine["invites"] == []

    assert (await http.post(f"/api/playlists/{pid}/leave", headers=friend.auth)).status_code == 200
    assert (await http.get(f"/api/playlists/{pid}", headers=friend.auth)).status_code == 404
    assert (await http.get("/api/playlists", headers=friend.auth)).json()["items"] == []


async def test_inviting_an_unknown_user_is_404(http: httpx.AsyncClient, user: ApiUser) -> None:
    pid = await new_playlist(http, user)
    resp = await http.post(f"/api/playlists/{pid}/invites", headers=user.auth, json={"user_id": "999999999"})
    assert resp.status_code == 404 and resp.json()["detail"] == "user 999999999 not found"


async def test_a_share_link_reads_and_joins_until_revoked(http: httpx.AsyncClient, user: ApiUser,
                                                          pg: psycopg.Connection) -> None:
    pid = await new_playlist(http, user)
    made = await http.post(f"/api/playlists/{pid}/link", headers=user.auth)
    assert made.status_code == 201
    token = made.json()["link"]
    row = pg.execute("SELECT doc::text FROM playlists WHERE id = %s", (pid,)).fetchone()
    assert row is not None and token not in row[0]  # only the digest is stored

    assert (await http.get(f"/api/playlists/{pid}", params={"link": token})).status_code == 200  # anonymous
    stranger = await register_and_login(http)
    joined = await http.post(f"/api/playlists/{pid}/join", headers=stranger.auth, json={"link": token})
    assert joined.status_code == 200 and joined.json()["your_role"] == "collaborator"

    assert (await http.delete(f"/api/playlists/{pid}/link", headers=user.auth)).status_code == 204
    late = await register_and_login(http)
    resp = await http.post(f"/api/playlists/{pid}/join", headers=late.auth, json={"link": token})
    assert resp.status_code == 404
    assert (await http.get(f"/api/playlists/{pid}", params={"link": token})).status_code == 404


async def test_public_playlists_are_read_by_anyone_and_edited_by_members(http: httpx.AsyncClient,
                                                                        user: ApiUser) -> None:
    pid = await new_playlist(http, user, visibility="public", song_ids=[1])
    anonymous = await http.get(f"/api/playlists/{pid}")
    assert anonymous.status_code == 200 and anonymous.json()["your_role"] == "viewer"
    other = await register_and_login(http)
    assert (await http.patch(f"/api/playlists/{pid}", headers=other.auth, json={"name": "Mine now"})).status_code == 403
    private = await http.patch(f"/api/playlists/{pid}", headers=user.auth, json={"visibility": "private"})
    assert private.status_code == 200 and private.json()["visibility"] == "private"
    assert (await http.get(f"/api/playlists/{pid}")).status_code == 404


async def test_the_owner_removes_a_collaborator(http: httpx.AsyncClient, user: ApiUser) -> None:
    friend = await register_and_login(http)
    pid = await new_playlist(http, user)
    await http.post(f"/api/playlists/{pid}/invites", headers=user.auth, json={"user_id": friend.id})
    await http.post(f"/api/playlists/{pid}/accept", headers=friend.auth)
    resp = await http.delete(f"/api/playlists/{pid}/members/{friend.id}", headers=user.auth)
    assert resp.status_code == 200 and resp.json()["collaborators"] == []
    assert (await http.post(f"/api/playlists/{pid}/songs", headers=friend.auth, json={"song_id": 2})).status_code == 404


async def test_concurrent_edits_by_owner_and_collaborator_all_land(http: httpx.AsyncClient, user: ApiUser) -> None:
    friend = await register_and_login(http)
    pid = await new_playlist(http, user)
    await http.post(f"/api/playlists/{pid}/invites", headers=user.auth, json={"user_id": friend.id})
    await http.post(f"/api/playlists/{pid}/accept", headers=friend.auth)
    songs = list(range(20, 36))
    results = await asyncio.gather(*(
        http.post(f"/api/playlists/{pid}/songs", headers=(user if i % 2 else friend).auth, json={"song_id": s})
        for i, s in enumerate(songs)))
    assert {r.status_code for r in results} == {200}
    final = (await http.get(f"/api/playlists/{pid}", headers=user.auth)).json()
    assert sorted(final["song_ids"]) == songs  # no edit lost to a concurrent one
    assert final["version"] == 2 + len(songs)  # invite, accept, then one version per song
