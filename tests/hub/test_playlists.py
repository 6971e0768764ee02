"""Collaborative playlists in the hub are the API's playlists: concurrent pycrdt edits merge without
loss and land in the playlist model; the model's rules (owner, collaborators, invitees, public, admin)
decide who may open and who may edit; history, undo and editor presence."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from pycrdt import Array, Doc

from spotctl_sandbox.common import audit
from spotctl_sandbox.playlists import Actor, Playlist, PlaylistService, Visibility
from spotctl_sandbox.realtime.client import HubClient, HubError

from .conftest import UserFactory, next_of

pytestmark = pytest.mark.stack

Accounts = Callable[..., Awaitable[list[str]]]


class Editor:
    """A client-side replica of the playlist, as a real app would keep one."""

    def __init__(self, client: HubClient) -> None:
        self.client = client
        self.doc: Doc[Any] = Doc()

    @property
    def tracks(self) -> Array[Any]:
        return self.doc.get("tracks", type=Array)

    async def open(self, pid: str) -> dict[str, Any]:
        state = await self.client.request("playlist_open", {"playlist_id": pid})
        self.doc.apply_update(base64.b64decode(state["update"]))
        return state

    def edit(self, change: Any) -> str:
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.tracks)
        return base64.b64encode(self.doc.get_update(before)).decode()

    def receive(self, frame: dict[str, Any]) -> None:
        self.doc.apply_update(base64.b64decode(frame["content"]["update"]))


async def shared(playlists: PlaylistService, owner: str, collaborator: str, songs: list[int] | None = None,
                 visibility: Visibility = Visibility.PRIVATE) -> Playlist:
    """A playlist of `owner` that `collaborator` accepted an invite to, as the API's routes make one."""
    playlist = await playlists.create(Actor(owner), "Road trip", song_ids=songs or [], visibility=visibility)
    await playlists.invite(Actor(owner), playlist.id, collaborator)
    await playlists.accept(Actor(collaborator), playlist.id)
    return playlist


async def test_concurrent_edits_merge_without_loss_into_the_apis_playlist(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator)).id
    s = [str(i) for i in songs]
    ann, ben = Editor(await user("ann", user_id=owner)), Editor(await user("ben", user_id=collaborator))
    await ann.open(pid)
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": ann.edit(lambda t: t.extend(s[:2]))})
    await ben.open(pid)
    assert list(ben.tracks) == s[:2]

    # Both edit the same base at the same time, without seeing each other's change first.
    from_ann = ann.edit(lambda t: t.insert(0, s[2]))
    from_ben = ben.edit(lambda t: (t.insert(0, s[3]), t.__delitem__(2)))
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": from_ann})
    merged = await ben.client.request("playlist_update", {"playlist_id": pid, "update": from_ben})
    ann.receive(await next_of(ann.client, "playlist_update"))
    ben.receive(await next_of(ben.client, "playlist_update"))
    assert sorted(merged["tracks"]) == sorted([s[0], s[2], s[3]])
    assert list(ann.tracks) == list(ben.tracks) == merged["tracks"]
    stored = await playlists.get(Actor(owner), pid)
    assert list(stored.song_ids) == [int(t) for t in merged["tracks"]]  # what the API serves

    history = (await ann.client.request("playlist_history", {"playlist_id": pid}))["versions"]
    assert [v["user_id"] for v in history] == [collaborator, owner, owner]
    assert history[0]["summary"]["removed"] == [{"track": s[1], "index": 2}]


async def test_edits_sent_at_the_same_moment_are_not_taken_for_changes_through_the_api(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator)).id
    s = [str(i) for i in songs]
    ann, ben = Editor(await user("ann", user_id=owner)), Editor(await user("ben", user_id=collaborator))
    await ann.open(pid)
    await ben.open(pid)
    for i in range(3):  # each commit must read the playlist after the other's, not before: else 'sync'
        mine, theirs = ann.edit(lambda t, i=i: t.append(s[i])), ben.edit(lambda t, i=i: t.insert(0, s[i + 3]))
        await asyncio.gather(ann.client.request("playlist_update", {"playlist_id": pid, "update": mine}),
                             ben.client.request("playlist_update", {"playlist_id": pid, "update": theirs}))
        ann.receive(await next_of(ann.client, "playlist_update"))
        ben.receive(await next_of(ben.client, "playlist_update"))
    history = (await ann.client.request("playlist_history", {"playlist_id": pid}))["versions"]
    assert [v["summary"]["label"] for v in history] == ["edit"] * 6
    assert list(ann.tracks) == list(ben.tracks) and sorted(ann.tracks) == sorted(s[:6])  # nothing lost
    assert (await playlists.get(Actor(owner), pid)).song_ids == tuple(int(t) for t in ann.tracks)


async def test_the_models_rules_decide_who_opens_and_who_edits(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService,
        redis: aioredis.Redis) -> None:
    owner, collaborator, invitee, stranger, admin = await accounts(5)
    private = await shared(playlists, owner, collaborator, songs[:1])
    await playlists.invite(Actor(owner), private.id, invitee)
    public = await playlists.create(Actor(owner), "Open", song_ids=songs[:1], visibility=Visibility.PUBLIC)

    eve = await user("eve", user_id=stranger)
    with pytest.raises(HubError) as err:
        await eve.request("playlist_open", {"playlist_id": private.id})
    assert err.value.code == "not_found"  # a private playlist does not exist for her
    with pytest.raises(HubError, match="not_found"):
        await eve.request("playlist_history", {"playlist_id": private.id})
    assert any(e["event"] == "denied" and e["service"] == "hub" and e["actor"] == stranger
               for e in await audit.recent(redis, 200))

    reader = Editor(eve)
    assert (await reader.open(public.id))["tracks"] == [str(songs[0])]  # anyone reads a public one
    with pytest.raises(HubError) as err:
        await eve.request("playlist_update", {"playlist_id": public.id,
                                              "update": reader.edit(lambda t: t.append(str(songs[1])))})
    assert err.value.code == "forbidden" and "owner and collaborators" in err.value.message

    ivy = Editor(await user("ivy", user_id=invitee))
    await ivy.open(private.id)  # invited: may read, not edit until she accepts
    with pytest.raises(HubError, match="forbidden"):
        await ivy.client.request("playlist_update", {"playlist_id": private.id,
                                                     "update": ivy.edit(lambda t: t.append(str(songs[2])))})
    assert (await playlists.get(Actor(owner), private.id)).song_ids == (songs[0],)  # nothing stored

    root = await user("root", user_id=admin, roles=("user", "admin"))
    assert (await root.request("playlist_open", {"playlist_id": private.id}))["tracks"] == [str(songs[0])]
    assert any(e["event"] == "admin" and e["actor"] == admin for e in await audit.recent(redis, 200))


async def test_a_change_through_the_api_reaches_the_editors(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator, songs[:2])).id
    ann, ben = Editor(await user("ann", user_id=owner)), Editor(await user("ben", user_id=collaborator))
    assert (await ann.open(pid))["tracks"] == [str(i) for i in songs[:2]]
    await playlists.edit(Actor(owner), pid, song_ids=songs[3:5])  # PUT /api/playlists/{id}
    state = await ben.open(pid)
    assert state["tracks"] == [str(i) for i in songs[3:5]]
    synced = await next_of(ann.client, "playlist_update")
    assert synced["content"]["user_id"] == "api" and synced["content"]["summary"]["label"] == "sync"
    ann.receive(synced)
    assert list(ann.tracks) == list(ben.tracks)


async def test_undo_reverts_my_last_edit_and_editors_are_visible(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator)).id
    x, y = str(songs[0]), str(songs[1])
    ann, ben = Editor(await user("ann", user_id=owner)), Editor(await user("ben", user_id=collaborator))
    await ann.open(pid)
    state = await ben.open(pid)
    assert set(state["editors"]) == {owner, collaborator}
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": ann.edit(lambda t: t.append(x))})
    ben.receive(await next_of(ben.client, "playlist_update"))
    await ben.client.request("playlist_update", {"playlist_id": pid, "update": ben.edit(lambda t: t.append(y))})
    ann.receive(await next_of(ann.client, "playlist_update"))
    latest = (await ann.client.request("playlist_history", {"playlist_id": pid, "limit": 1}))["versions"][0]
    replica = Editor(ann.client)  # ann's state before the undo, kept by a client that reads replies only
    replica.doc.apply_update(ann.doc.get_update())
    undone = await ann.client.request("playlist_undo", {"playlist_id": pid})
    assert undone["tracks"] == [y] and undone["summary"]["label"] == "undo"
    assert undone["summary"]["undoes"] == str(undone["undid"]) and undone["undid"] < latest["version"]  # not ben's
    replica.doc.apply_update(base64.b64decode(undone["update"]))
    assert list(replica.tracks) == [y]
    for editor in (ann, ben):  # the undo is an update the hub made: the undoer gets its frame too
        frame = await next_of(editor.client, "playlist_update")
        assert frame["content"]["update"] == undone["update"] and frame["content"]["summary"] == undone["summary"]
        editor.receive(frame)
        assert list(editor.tracks) == [y]
    assert (await playlists.get(Actor(owner), pid)).song_ids == (songs[1],)
    with pytest.raises(HubError, match="nothing of yours to undo"):
        await ann.client.request("playlist_undo", {"playlist_id": pid})


async def test_garbage_updates_unknown_songs_and_unopened_playlists_are_refused(
        user: UserFactory, accounts: Accounts, songs: list[int], playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator, songs[:1])).id
    ann = Editor(await user("ann", user_id=owner))
    with pytest.raises(HubError, match="forbidden"):
        await ann.client.request("playlist_update", {"playlist_id": pid, "update": "AAAA"})
    await ann.open(pid)
    with pytest.raises(HubError, match="base64"):
        await ann.client.request("playlist_update", {"playlist_id": pid, "update": "%%%"})
    with pytest.raises(HubError, match="not a valid Yjs update"):
        await ann.client.request("playlist_update", {"playlist_id": pid,
                                                     "update": base64.b64encode(b"\xff garbage").decode()})
    with pytest.raises(HubError, match="is not a song id"):
        await ann.client.request("playlist_update", {"playlist_id": pid,
                                                     "update": ann.edit(lambda t: t.append("jazz"))})
    ann = Editor(ann.client)  # a refused edit is not in the document: start again from the hub's copy
    assert (await ann.open(pid))["tracks"] == [str(songs[0])]
    with pytest.raises(HubError, match="unknown song ids"):
        await ann.client.request("playlist_update", {"playlist_id": pid,
                                                     "update": ann.edit(lambda t: t.append("9" * 18))})
    fresh = Editor(ann.client)
    assert (await fresh.open(pid))["tracks"] == [str(songs[0])]  # nothing of the refused edits stayed
    assert len((await ann.client.request("playlist_history", {"playlist_id": pid}))["versions"]) == 1  # sync


async def test_closing_a_playlist_ends_editing(
        user: UserFactory, accounts: Accounts, playlists: PlaylistService) -> None:
    owner, collaborator = await accounts(2)
    pid = (await shared(playlists, owner, collaborator)).id
    ann, ben = await user("ann", user_id=owner), await user("ben", user_id=collaborator)
    await ann.request("playlist_open", {"playlist_id": pid})
    await ben.request("playlist_open", {"playlist_id": pid})
    await ben.request("playlist_close", {"playlist_id": pid})
    left = await next_of(ann, "playlist_presence")
    while left["content"]["editing"]:  # ben's own 'opened' comes first
        left = await next_of(ann, "playlist_presence")
    assert left["content"]["user_id"] == collaborator
    assert collaborator not in (await ann.request("playlist_open", {"playlist_id": pid}))["editors"]
    with pytest.raises(HubError, match="forbidden"):
        await ben.request("playlist_undo", {"playlist_id": pid})
