"""Collaborative playlists: concurrent pycrdt edits from two clients merge without loss, with
version history, undo and editor presence."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from pycrdt import Array, Doc

from spotctl_sandbox.realtime.client import HubClient, HubError

from .conftest import UserFactory, next_of

pytestmark = pytest.mark.stack


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


async def test_concurrent_edits_from_two_clients_merge_without_loss(user: UserFactory) -> None:
    pid = "pl-" + uuid.uuid4().hex[:8]
    ann, ben = Editor(await user("ann")), Editor(await user("ben"))
    await ann.open(pid)
    first = ann.edit(lambda t: t.extend(["a", "b"]))
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": first})
    await ben.open(pid)
    assert list(ben.tracks) == ["a", "b"]

    # Both edit the same base at the same time, without seeing each other's change first.
    from_ann = ann.edit(lambda t: t.insert(0, "ann-song"))
    from_ben = ben.edit(lambda t: (t.insert(0, "ben-song"), t.__delitem__(2)))
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": from_ann})
    merged = await ben.client.request("playlist_update", {"playlist_id": pid, "update": from_ben})
    ann.receive(await next_of(ann.client, "playlist_update"))
    ben.receive(await next_of(ben.client, "playlist_update"))
    assert sorted(merged["tracks"]) == ["a", "ann-song", "ben-song"]
    assert list(ann.tracks) == list(ben.tracks) == merged["tracks"]

    history = (await ann.client.request("playlist_history", {"playlist_id": pid}))["versions"]
    assert [v["user_id"] for v in history] == [ben.client.user_id, ann.client.user_id,
                                               ann.client.user_id]
    assert history[0]["summary"]["removed"] == [{"track": "b", "index": 2}]


async def test_undo_reverts_my_last_edit_and_editors_are_visible(user: UserFactory) -> None:
    pid = "pl-" + uuid.uuid4().hex[:8]
    ann, ben = Editor(await user("ann")), Editor(await user("ben"))
    await ann.open(pid)
    state = await ben.open(pid)
    assert set(state["editors"]) == {ann.client.user_id, ben.client.user_id}
    await ann.client.request("playlist_update", {"playlist_id": pid, "update": ann.edit(lambda t: t.append("x"))})
    ben.receive(await next_of(ben.client, "playlist_update"))
    await ben.client.request("playlist_update", {"playlist_id": pid, "update": ben.edit(lambda t: t.append("y"))})
    undone = await ann.client.request("playlist_undo", {"playlist_id": pid})
    assert undone["tracks"] == ["y"] and undone["summary"]["label"] == "undo"
    with pytest.raises(HubError, match="nothing of yours to undo"):
        await ann.client.request("playlist_undo", {"playlist_id": pid})


async def test_garbage_updates_and_unopened_playlists_are_refused(user: UserFactory) -> None:
    ann, pid = await user("ann"), "pl-" + uuid.uuid4().hex[:8]
    with pytest.raises(HubError, match="forbidden"):
        await ann.request("playlist_update", {"playlist_id": pid, "update": "AAAA"})
    await ann.request("playlist_open", {"playlist_id": pid})
    with pytest.raises(HubError, match="base64"):
        await ann.request("playlist_update", {"playlist_id": pid, "update": "%%%"})
    with pytest.raises(HubError, match="not a valid Yjs update"):
        await ann.request("playlist_update", {"playlist_id": pid,
                                              "update": base64.b64encode(b"\xff garbage").decode()})


async def test_closing_a_playlist_ends_editing(user: UserFactory) -> None:
    ann, ben = await user("ann"), await user("ben")
    pid = "pl-" + uuid.uuid4().hex[:8]
    await ann.request("playlist_open", {"playlist_id": pid})
    await ben.request("playlist_open", {"playlist_id": pid})
    await ben.request("playlist_close", {"playlist_id": pid})
    left = await next_of(ann, "playlist_presence")
    while left["content"]["editing"]:  # ben's own 'opened' comes first
        left = await next_of(ann, "playlist_presence")
    assert left["content"]["user_id"] == ben.user_id
    assert ben.user_id not in (await ann.request("playlist_open", {"playlist_id": pid}))["editors"]
    with pytest.raises(HubError, match="forbidden"):
        await ben.request("playlist_undo", {"playlist_id": pid})
