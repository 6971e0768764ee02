"""The authorization matrix: every client message type sent by the owner of a resource, a member of it,
another user of the same tenant, and an anonymous client — against the real hub.

A world per message type: a private chat channel (owner + one invited member, both joined), a room
they joined, a listening session (host + a listener, a queue item each), a notification to the
owner, and for the playlist messages a private playlist of the owner with the member as collaborator
(both have it open and made an edit). The three are API accounts. `ok` means answered with a result
(or, for a message that has no reply, no error)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from pycrdt import Array, Doc
from websockets.asyncio.client import connect

from spotctl_sandbox.hub.features import MESSAGES
from spotctl_sandbox.playlists import Actor, PlaylistService
from spotctl_sandbox.realtime.client import HubClient
from spotctl_sandbox.realtime.protocol import request
from spotctl_sandbox.realtime.publish import publish_notification

from .conftest import Hub, HubProcess, UserFactory

pytestmark = pytest.mark.stack

ROLES = ("owner", "member", "other")
Accounts = Callable[..., Awaitable[list[str]]]
_ids = itertools.count()


@dataclass
class World:
    """What one message type is tried against; per-role details in the dicts."""

    channel: int
    room: str
    session: str
    items: dict[str, str]  # role -> a queue item of its own (other: one of the host's)
    notification: str
    playlist: str = "none"
    documents: dict[str, bytes] = field(default_factory=dict)  # role -> the playlist as its replica holds it
    song: int = 0


def edit(world: World, role: str) -> dict[str, Any]:
    """A playlist update appending a song, made on the role's replica (other: on nothing)."""
    doc: Doc[Any] = Doc()
    if role in world.documents:
        doc.apply_update(world.documents[role])
    state = doc.get_state()
    doc.get("tracks", type=Array).append(str(world.song))
    return {"playlist_id": world.playlist, "update": base64.b64encode(doc.get_update(state)).decode()}


Content = Callable[[World, str], dict[str, Any]]
OK, FORBIDDEN, NOT_FOUND, BAD = "ok", "forbidden", "not_found", "bad_envelope"
ALL_OK = dict.fromkeys(ROLES, OK)
MEMBERS = {"owner": OK, "member": OK, "other": FORBIDDEN}

EXPECTED: dict[str, tuple[Content, dict[str, str]]] = {
    "auth": (lambda w, r: {"token": "x"}, dict.fromkeys(ROLES, BAD)),  # only ever the first frame
    "ping": (lambda w, r: {}, ALL_OK),
    "time_sync": (lambda w, r: {"client_time": 1}, ALL_OK),
    "presence": (lambda w, r: {"status": "away"}, ALL_OK),
    "join": (lambda w, r: {"room": w.room}, ALL_OK),  # rooms are public
    "leave": (lambda w, r: {"room": w.room}, ALL_OK),
    "room_message": (lambda w, r: {"room": w.room, "data": r}, MEMBERS),  # joined first
    "notification_read": (lambda w, r: {"id": w.notification}, {"owner": OK, "member": NOT_FOUND,
                                                                "other": NOT_FOUND}),
    "notification_status": (lambda w, r: {"id": w.notification}, {"owner": OK, "member": NOT_FOUND,
                                                                  "other": NOT_FOUND}),
    "preferences": (lambda w, r: {"locale": "de"}, ALL_OK),  # one's own
    "channel_create": (lambda w, r: {"kind": "private", "name": r}, ALL_OK),
    "channel_join": (lambda w, r: {"channel_id": w.channel}, MEMBERS),
    "channel_leave": (lambda w, r: {"channel_id": w.channel}, MEMBERS),
    "channel_invite": (lambda w, r: {"channel_id": w.channel, "user_id": f"guest-{next(_ids)}"}, MEMBERS),
    "channel_list": (lambda w, r: {}, ALL_OK),
    "chat_message": (lambda w, r: {"channel_id": w.channel, "text": r}, MEMBERS),
    "history": (lambda w, r: {"channel_id": w.channel}, MEMBERS),
    "search": (lambda w, r: {"channel_id": w.channel, "query": "x"}, MEMBERS),
    "typing": (lambda w, r: {"channel_id": w.channel, "typing": True}, MEMBERS),
    "read_receipt": (lambda w, r: {"channel_id": w.channel, "message_id": 1}, MEMBERS),
    "channel_presence": (lambda w, r: {"channel_id": w.channel}, MEMBERS),
    "session_create": (lambda w, r: {}, ALL_OK),
    "session_join": (lambda w, r: {"session_id": w.session}, ALL_OK),  # whoever holds the unguessable id
    "session_leave": (lambda w, r: {"session_id": w.session}, ALL_OK),
    "session_control": (lambda w, r: {"session_id": w.session, "action": "pause"},
                        {"owner": OK, "member": FORBIDDEN, "other": FORBIDDEN}),  # the host only
    "queue_add": (lambda w, r: {"session_id": w.session, "track_id": r}, MEMBERS),  # listeners
    "queue_remove": (lambda w, r: {"session_id": w.session, "item_id": w.items[r]}, MEMBERS),
    # a private playlist: owner and collaborator; anyone else is told it does not exist
    "playlist_open": (lambda w, r: {"playlist_id": w.playlist}, {"owner": OK, "member": OK, "other": NOT_FOUND}),
    "playlist_history": (lambda w, r: {"playlist_id": w.playlist}, {"owner": OK, "member": OK,
                                                                    "other": NOT_FOUND}),
    "playlist_update": (edit, MEMBERS),  # other: cannot open it, so cannot edit it
    "playlist_undo": (lambda w, r: {"playlist_id": w.playlist}, MEMBERS),
    "playlist_close": (lambda w, r: {"playlist_id": w.playlist}, ALL_OK),
}
PLAYLISTS = {kind for kind in EXPECTED if kind.startswith("playlist_")}


async def world(users: dict[str, HubClient], redis: aioredis.Redis, ns: str, playlists: PlaylistService | None,
                songs: list[int]) -> World:
    owner, member = users["owner"], users["member"]
    channel = (await owner.request("channel_create", {"kind": "private", "members": [member.user_id]}))["channel"]
    await member.request("channel_join", {"channel_id": channel["id"]})
    room = f"room-{next(_ids)}"
    for client in (owner, member):
        await client.request("join", {"room": room})
    session = (await owner.request("session_create", {}))["session_id"]
    await member.request("session_join", {"session_id": session})
    items = {role: (await users[role].request("queue_add", {"session_id": session, "track_id": role}))["item_id"]
             for role in ("owner", "member")}
    items["other"] = items["owner"]
    notification = await publish_notification(redis, owner.user_id, title="t", body="b", namespace=ns)
    here = World(channel["id"], room, session, items, notification, song=songs[-1])
    if playlists is not None:
        playlist = await playlists.create(Actor(owner.user_id), "matrix")
        await playlists.invite(Actor(owner.user_id), playlist.id, member.user_id)
        await playlists.accept(Actor(member.user_id), playlist.id)
        here.playlist = playlist.id
        for role, song in (("owner", songs[0]), ("member", songs[1])):  # each opens it and adds a song
            doc: Doc[Any] = Doc()
            doc.apply_update(base64.b64decode((await users[role].request(
                "playlist_open", {"playlist_id": playlist.id}))["update"]))
            for earlier in await _pending_updates(users[role]):
                doc.apply_update(earlier)
            state = doc.get_state()
            doc.get("tracks", type=Array).append(str(song))
            await users[role].request("playlist_update", {"playlist_id": playlist.id, "update": base64.b64encode(
                doc.get_update(state)).decode()})
            here.documents[role] = doc.get_update()
        here.documents["owner"] = _merged(here.documents)
        here.documents["member"] = here.documents["owner"]
    return here


async def _pending_updates(client: HubClient) -> list[bytes]:
    """Playlist updates pushed to `client` so far (the other editor's), without waiting."""
    out = []
    while True:
        try:
            frame = await client.recv(timeout=0.05)
        except TimeoutError:
            return out
        if frame["type"] == "playlist_update":
            out.append(base64.b64decode(frame["content"]["update"]))


def _merged(documents: dict[str, bytes]) -> bytes:
    doc: Doc[Any] = Doc()
    for update in documents.values():
        doc.apply_update(update)
    return doc.get_update()


async def outcome(client: HubClient, kind: str, content: dict[str, Any]) -> str:
    """`ok`, or the error code; a message without a reply is `ok` unless an error answers it."""
    ws = client._ws
    assert ws is not None
    rid = f"m{next(_ids)}"
    future = asyncio.get_running_loop().create_future()
    client._replies[rid] = future
    try:
        await ws.send(request(kind, content, rid))
        await client.request("ping", {})  # answered in order: anything for `rid` came before it
        if not future.done():
            return OK
        reply = future.result()
    finally:
        client._replies.pop(rid, None)
    return OK if reply["type"] != "error" else str(reply["content"]["code"])


async def test_every_message_type_as_owner_member_and_other_user(
        user: UserFactory, redis: aioredis.Redis, ns: str, unlimited_hub: HubProcess, accounts: Accounts,
        songs: list[int], playlists: PlaylistService) -> None:
    assert set(EXPECTED) == set(MESSAGES), "a message type is missing from the matrix"
    ids = dict(zip(ROLES, await accounts(len(ROLES)), strict=True))
    users = {role: await user(role, url=unlimited_hub.url, user_id=ids[role]) for role in ROLES}
    actual: dict[str, dict[str, str]] = {}
    for kind, (content, _) in EXPECTED.items():
        here = await world(users, redis, ns, playlists if kind in PLAYLISTS else None, songs)
        actual[kind] = {role: await outcome(users[role], kind, content(here, role)) for role in ROLES}
    wrong = {kind: (actual[kind], expected) for kind, (_, expected) in EXPECTED.items() if actual[kind] != expected}
    assert wrong == {}, "\n".join(f"{k}: got {a}, want {e}" for k, (a, e) in wrong.items())


@pytest.mark.parametrize("kind", sorted(MESSAGES))
async def test_an_anonymous_client_is_refused_whatever_it_sends(hub: Hub, kind: str) -> None:
    frame = EXPECTED[kind][0](World(1, "r", "s", {"anonymous": "i"}, "n", "p"), "anonymous")
    async with connect(hub.url) as ws:
        await ws.send(request(kind, frame if kind != "auth" else {"token": "not-a-token"}))
        refused = json.loads(await ws.recv())
        await ws.wait_closed()
    assert refused["type"] == "error" and refused["content"]["code"] == "unauthorized"
    assert ws.close_code == 1008
