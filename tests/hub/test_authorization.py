"""The authorization matrix: every client message type sent by the owner of a resource, a member of it,
another user of the same tenant, and an anonymous client — against the real hub.

A world per message type: a private chat channel (owner + one invited member, both joined), a room
they joined, a listening session (host + a listener, a queue item each), a notification to the
owner. `ok` means answered with a result (or, for a message that has no reply, no error)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from spotctl_sandbox.hub.features import MESSAGES
from spotctl_sandbox.realtime.client import HubClient
from spotctl_sandbox.realtime.protocol import request
from spotctl_sandbox.realtime.publish import publish_notification

from .conftest import Hub, HubProcess, UserFactory

pytestmark = pytest.mark.stack

ROLES = ("owner", "member", "other")
_ids = itertools.count()


@dataclass
class World:
    """What one message type is tried against; per-role details in the dicts."""

    channel: int
    room: str
    session: str
    items: dict[str, str]  # role -> a queue item of its own (other: one of the host's)
    notification: str


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
}
PLAYLISTS = {"playlist_open", "playlist_close", "playlist_update", "playlist_history", "playlist_undo"}


async def world(users: dict[str, HubClient], redis: aioredis.Redis, ns: str) -> World:
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
    return World(channel["id"], room, session, items, notification)


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


async def test_every_message_type_as_owner_member_and_other_user(user: UserFactory, redis: aioredis.Redis,
                                                                  ns: str, unlimited_hub: HubProcess) -> None:
    assert set(EXPECTED) | PLAYLISTS == set(MESSAGES), "a message type is missing from the matrix"
    users = {role: await user(role, url=unlimited_hub.url) for role in ROLES}
    actual: dict[str, dict[str, str]] = {}
    for kind, (content, _) in EXPECTED.items():
        here = await world(users, redis, ns)
        actual[kind] = {role: await outcome(users[role], kind, content(here, role)) for role in ROLES}
    wrong = {kind: (actual[kind], expected) for kind, (_, expected) in EXPECTED.items() if actual[kind] != expected}
    assert wrong == {}, "\n".join(f"{k}: got {a}, want {e}" for k, (a, e) in wrong.items())


@pytest.mark.parametrize("kind", sorted(MESSAGES))
async def test_an_anonymous_client_is_refused_whatever_it_sends(hub: Hub, kind: str) -> None:
    content = EXPECTED[kind][0] if kind in EXPECTED else (lambda w, r: {"playlist_id": "p"})
    frame = content(World(1, "r", "s", {"anonymous": "i"}, "n"), "anonymous")
    async with connect(hub.url) as ws:
        await ws.send(request(kind, frame if kind != "auth" else {"token": "not-a-token"}))
        refused = json.loads(await ws.recv())
        await ws.wait_closed()
    assert refused["type"] == "error" and refused["content"]["code"] == "unauthorized"
    assert ws.close_code == 1008
