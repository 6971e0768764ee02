"""Listening sessions: host controls reach every listener with server-clock positions; the shared
queue takes concurrent edits without losing any."""

from __future__ import annotations

import asyncio
import time

import pytest

from spotctl_sandbox.realtime.client import HubError

from .conftest import UserFactory, next_of

pytestmark = pytest.mark.stack


async def test_host_controls_reach_listeners_and_late_joiners_start_in_place(user: UserFactory) -> None:
    host, friend = await user("host"), await user("friend")
    session = await host.request("session_create", {"track_id": "song-1", "queue": ["song-2"]})
    sid = session["session_id"]
    await friend.request("session_join", {"session_id": sid})
    await host.request("session_control", {"session_id": sid, "action": "play", "position_ms": 30_000})
    state = (await next_of(friend, "session_state"))["content"]
    assert state["action"] == "play" and state["playing"] and state["track_id"] == "song-1"

    await asyncio.sleep(0.5)
    late = await user("late")
    joined = await late.request("session_join", {"session_id": sid})
    expected = 30_000 + (joined["server_time"] - state["updated_ms"])
    assert joined["position_now_ms"] == pytest.approx(expected, abs=1) and joined["position_now_ms"] >= 30_400

    await host.request("session_control", {"session_id": sid, "action": "skip"})
    skipped = (await next_of(late, "session_state"))["content"]
    assert skipped["track_id"] == "song-2" and skipped["position_ms"] == 0 and skipped["queue"] == []
    await host.request("session_control", {"session_id": sid, "action": "volume", "volume": 0.3})
    assert (await next_of(late, "session_state"))["content"]["volume"] == 0.3


async def test_only_the_host_controls_playback(user: UserFactory) -> None:
    host, friend = await user("host"), await user("friend")
    sid = (await host.request("session_create", {}))["session_id"]
    await friend.request("session_join", {"session_id": sid})
    with pytest.raises(HubError, match="forbidden"):
        await friend.request("session_control", {"session_id": sid, "action": "pause"})
    with pytest.raises(HubError, match="nothing to play"):
        await host.request("session_control", {"session_id": sid, "action": "play"})
    with pytest.raises(HubError, match="not_found"):
        await friend.request("session_join", {"session_id": "nope"})


async def test_concurrent_queue_edits_are_not_lost(user: UserFactory) -> None:
    host, friend = await user("host", backoff_initial=0.1), await user("friend")
    sid = (await host.request("session_create", {}))["session_id"]
    await friend.request("session_join", {"session_id": sid})
    started = time.monotonic()
    added = await asyncio.gather(*(client.request("queue_add", {"session_id": sid, "track_id": f"{name}-{i}"})
                                   for i in range(10) for client, name in ((host, "h"), (friend, "f"))))
    assert time.monotonic() - started < 10
    removed = added[0]["item_id"]
    await friend.request("queue_remove", {"session_id": sid, "item_id": removed})
    queue = (await host.request("session_join", {"session_id": sid}))["queue"]
    assert len(queue) == 19 and removed not in {q["item_id"] for q in queue}
    assert {q["track_id"] for q in queue} == {f"{n}-{i}" for i in range(10) for n in "hf"} - {added[0]["track_id"]}


async def test_leaving_a_session_stops_its_updates(user: UserFactory) -> None:
    host, friend, stranger = await user("host"), await user("friend"), await user("stranger")
    sid = (await host.request("session_create", {"track_id": "t1"}))["session_id"]
    await stranger.request("session_leave", {"session_id": sid})  # never joined: nobody is told it left
    await friend.request("session_join", {"session_id": sid})
    assert (await next_of(host, "session_member"))["content"] == {"session_id": sid, "user_id": friend.user_id,
                                                                   "joined": True}
    await friend.request("session_leave", {"session_id": sid})
    assert (await next_of(host, "session_member"))["content"] == {"session_id": sid, "user_id": friend.user_id,
                                                                   "joined": False}
    await host.request("session_control", {"session_id": sid, "action": "play"})
    with pytest.raises(TimeoutError):
        await next_of(friend, "session_state", timeout=0.5)
