"""Chat against the real hub and PostgreSQL: channels and authorization, persistence, history paging,
search, typing, read receipts, presence and attachments."""

from __future__ import annotations

import asyncio

import pytest

from spotctl_sandbox.realtime.client import HubError

from .conftest import UserFactory, next_of

pytestmark = pytest.mark.stack


async def test_public_channel_messages_are_delivered_and_persisted(user: UserFactory) -> None:
    ann, ben = await user("ann"), await user("ben")
    channel = (await ann.request("channel_create", {"kind": "public", "name": "general"}))["channel"]
    await ben.request("channel_join", {"channel_id": channel["id"]})
    attachment = {"id": "media-1", "name": "cover.png", "size": 1234, "type": "image/png"}
    sent = await ann.request("chat_message", {"channel_id": channel["id"], "text": "hello ben",
                                              "attachments": [attachment]})
    frame = await next_of(ben, "chat_message")
    assert frame["content"]["message_id"] == sent["message_id"] and frame["content"]["attachments"] == [attachment]
    page = await ben.request("history", {"channel_id": channel["id"]})
    assert page["messages"] == [frame["content"]]  # a stored message looks like the live one, names included
    assert page["messages"][0]["name"] == "ann" and page["messages"][0]["channel_name"] == "general"
    found = await ben.request("search", {"query": "hello"})
    assert found["messages"] == [frame["content"]]


async def test_joining_by_name_finds_or_makes_one_channel(user: UserFactory) -> None:
    ann, ben, carl, dan = await user("ann"), await user("ben"), await user("carl"), await user("dan")
    made = await ann.request("channel_join", {"name": "general"})
    assert made["created"] and made["channel"]["kind"] == "public" and made["channel"]["created_by"] == ann.user_id
    found = await ben.request("channel_join", {"name": "general"})
    assert found["channel"]["id"] == made["channel"]["id"] and not found["created"]
    await ben.request("chat_message", {"channel_id": found["channel"]["id"], "text": "found you"})
    assert (await next_of(ann, "chat_message"))["content"]["text"] == "found you"
    both = await asyncio.gather(carl.request("channel_join", {"name": "party"}),
                                dan.request("channel_join", {"name": "party"}))
    assert both[0]["channel"]["id"] == both[1]["channel"]["id"]  # two joins by a new name: one channel
    assert [r["created"] for r in both].count(True) == 1
    for content in ({}, {"channel_id": made["channel"]["id"], "name": "general"}):
        with pytest.raises(HubError, match="channel_id or name"):
            await ann.request("channel_join", content)


async def test_joining_by_name_never_lands_in_a_private_channel_of_others(user: UserFactory) -> None:
    ann, eve = await user("ann"), await user("eve")
    secret = (await ann.request("channel_create", {"kind": "private", "name": "staff"}))["channel"]
    assert (await ann.request("channel_join", {"name": "staff"}))["channel"]["id"] == secret["id"]  # her own
    joined = await eve.request("channel_join", {"name": "staff"})
    assert joined["created"] and joined["channel"]["id"] != secret["id"] and joined["channel"]["kind"] == "public"


async def test_leaving_a_channel_you_are_not_in_is_an_error(user: UserFactory) -> None:
    ann, eve = await user("ann"), await user("eve")
    cid = (await ann.request("channel_create", {"kind": "public"}))["channel"]["id"]
    with pytest.raises(HubError) as err:
        await eve.request("channel_leave", {"channel_id": cid})
    assert err.value.code == "forbidden" and "not a member" in err.value.message
    assert await ann.request("channel_leave", {"channel_id": cid}) == {"channel_id": cid}


async def test_history_pages_backwards_and_search_finds_words(user: UserFactory) -> None:
    ann = await user("ann")
    cid = (await ann.request("channel_create", {"kind": "public"}))["channel"]["id"]
    for i in range(5):
        await ann.request("chat_message", {"channel_id": cid, "text": f"note {i} about {'jazz' if i == 3 else 'rock'}"})
    first = await ann.request("history", {"channel_id": cid, "limit": 2})
    second = await ann.request("history", {"channel_id": cid, "limit": 2, "before_id": first["next_before_id"]})
    assert [m["text"][:6] for m in first["messages"] + second["messages"]] == \
        ["note 4", "note 3", "note 2", "note 1"]
    found = await ann.request("search", {"query": "jazz", "channel_id": cid})
    assert [m["text"] for m in found["messages"]] == ["note 3 about jazz"]


async def test_private_channels_admit_members_only(user: UserFactory) -> None:
    ann, ben, eve = await user("ann"), await user("ben"), await user("eve")
    cid = (await ann.request("channel_create", {"kind": "private", "name": "secret"}))["channel"]["id"]
    with pytest.raises(HubError) as err:
        await eve.request("channel_join", {"channel_id": cid})
    assert err.value.code == "forbidden"
    with pytest.raises(HubError, match="forbidden"):
        await eve.request("history", {"channel_id": cid})
    with pytest.raises(HubError, match="forbidden"):
        await eve.request("chat_message", {"channel_id": cid, "text": "let me in"})
    await ann.request("channel_invite", {"channel_id": cid, "user_id": ben.user_id})
    assert (await next_of(ben, "channel_invited"))["content"]["channel"]["id"] == cid
    assert (await ben.request("channel_join", {"channel_id": cid}))["channel"]["kind"] == "private"
    with pytest.raises(HubError, match="forbidden"):
        await eve.request("search", {"query": "x", "channel_id": cid})


async def test_direct_channels_are_for_two(user: UserFactory) -> None:
    ann, ben = await user("ann"), await user("ben")
    first = await ann.request("channel_create", {"kind": "direct", "members": [ben.user_id]})
    again = await ben.request("channel_create", {"kind": "direct", "members": [ann.user_id]})
    assert first["channel"]["id"] == again["channel"]["id"]  # one conversation per pair
    with pytest.raises(HubError, match="exactly one other member"):
        await ann.request("channel_create", {"kind": "direct", "members": []})
    with pytest.raises(HubError, match="direct channel"):
        await ann.request("channel_invite", {"channel_id": first["channel"]["id"], "user_id": "carl"})


async def test_typing_receipts_and_presence(user: UserFactory) -> None:
    ann, ben = await user("ann"), await user("ben")
    cid = (await ann.request("channel_create", {"kind": "public"}))["channel"]["id"]
    await ben.request("channel_join", {"channel_id": cid})
    await ann.send("typing", {"channel_id": cid, "typing": True})
    typing = await next_of(ben, "typing")
    assert typing["content"] == {"channel_id": cid, "user_id": ann.user_id, "typing": True}
    mid = (await ann.request("chat_message", {"channel_id": cid, "text": "read me"}))["message_id"]
    await ben.request("read_receipt", {"channel_id": cid, "message_id": mid})
    receipt = await next_of(ann, "read_receipt")
    assert receipt["content"]["user_id"] == ben.user_id and receipt["content"]["message_id"] == mid
    await ben.request("presence", {"status": "away"})
    assert (await next_of(ann, "presence"))["content"]["status"] == "away"
    members = {m["user_id"]: m for m in (await ann.request("channel_presence", {"channel_id": cid}))["members"]}
    assert members[ben.user_id]["status"] == "away"
    assert members[ben.user_id]["last_read_id"] == mid
    assert members[ann.user_id]["status"] == "online"
    await ben.close()
    offline = await next_of(ann, "presence")
    assert offline["content"] == {"channel_id": cid, "user_id": ben.user_id, "status": "offline"}


async def test_typing_is_not_echoed_to_its_sender(user: UserFactory) -> None:
    ann = await user("ann")
    cid = (await ann.request("channel_create", {"kind": "public"}))["channel"]["id"]
    await ann.send("typing", {"channel_id": cid, "typing": True})
    with pytest.raises(TimeoutError):
        await next_of(ann, "typing", timeout=0.5)


async def test_leaving_stops_delivery_and_listing_shows_membership(user: UserFactory) -> None:
    ann, ben = await user("ann"), await user("ben")
    cid = (await ann.request("channel_create", {"kind": "public", "name": "leavers"}))["channel"]["id"]
    await ben.request("channel_join", {"channel_id": cid})
    listed = {c["id"]: c for c in (await ben.request("channel_list", {}))["channels"]}
    assert listed[cid]["member"] is True and listed[cid]["name"] == "leavers"
    await ben.request("channel_leave", {"channel_id": cid})
    with pytest.raises(HubError, match="forbidden"):
        await ben.request("chat_message", {"channel_id": cid, "text": "still here?"})
    await ann.request("chat_message", {"channel_id": cid, "text": "gone"})
    with pytest.raises(TimeoutError):
        await next_of(ben, "chat_message", timeout=0.5)
    await ben.request("join", {"room": "r"})
    await ben.request("leave", {"room": "r"})
    with pytest.raises(HubError, match="join room 'r'"):
        await ben.request("room_message", {"room": "r", "data": 1})
