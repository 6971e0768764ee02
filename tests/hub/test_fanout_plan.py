"""The fan-out core on its own, like websockets' protocol tests: a burst of published frames and
some subscribers in, a plan out (writes, sheds, closes) — no sockets, no Redis, no event loop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from spotctl_sandbox.hub.core.fanout import KICK, Limits, Published, plan
from spotctl_sandbox.realtime import keys, protocol
from spotctl_sandbox.realtime.priority import Priority
from spotctl_sandbox.realtime.topics import Topic

ROOM = keys.channel("t", Topic.room("r"))
USER = keys.channel("t", Topic.user("u1"))
LIMITS = Limits(soft=1000, hard=10_000, grace_s=1.0)


@dataclass(eq=False)
class Sub:
    id: str
    behind: int = 0  # bytes its reader has not taken yet
    closing: bool = False
    backlogged_since: float = 0.0

    @property
    def transport(self) -> Sub:
        return self

    def get_write_buffer_size(self) -> int:
        return self.behind


def published(kind: str, priority: int, text: str, *, channel: str = ROOM, origin: str | None = None,
              frame_id: str = "1-0", content: Any = None) -> Published:
    body = protocol.dumps(protocol.body(kind, {"text": text} if content is None else content,
                                        topic="room:r", priority=priority, origin=origin))
    return Published.decode(channel, protocol.bus_payload(frame_id, body))


def texts(frames: bytes | list[bytes]) -> list[str]:
    """The `content.text` of each serialized frame (unmasked, payloads under 126 bytes or 16-bit) of
    one subscriber's write: one frame's bytes, or the burst's frames in order."""
    data, out = frames if isinstance(frames, bytes) else b"".join(frames), []
    while data:
        size, start = data[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        out.append(json.loads(data[start:start + size])["content"]["text"])
        data = data[start + size:]
    return out


def test_a_burst_leaves_highest_priority_first_in_one_write_per_subscriber() -> None:
    a, b = Sub("a"), Sub("b")
    out = plan([published("room_message", 1, "normal"), published("room_message", 3, "critical"),
                published("room_message", 0, "low"), published("room_message", 2, "high")],
               {ROOM: {a, b}}, now=0.0, limits=LIMITS)
    assert texts(out.writes[a]) == texts(out.writes[b]) == ["critical", "high", "normal", "low"]
    assert out.writes[a][0] is out.writes[b][0]  # serialized once, the same bytes for everyone
    one = plan([published("room_message", 0, "alone")], {ROOM: {a, b}}, now=0.0, limits=LIMITS)
    assert texts(one.writes[a]) == ["alone"] and one.writes[a] is one.writes[b]  # a lone frame: its bytes, no list
    assert [(p.kind, n) for p, n in out.fanned] == [("room_message", 2)] * 4


def test_the_sender_does_not_get_its_own_client_event_back() -> None:
    me, other = Sub("me"), Sub("other")
    out = plan([published("typing", 0, "...", origin="me")], {ROOM: {me, other}}, now=0.0, limits=LIMITS)
    assert me not in out.writes and texts(out.writes[other]) == ["..."]


def test_a_reader_that_stays_backlogged_keeps_only_high_priority_frames() -> None:
    fast, slow = Sub("fast"), Sub("slow", behind=LIMITS.soft + 1)
    frames = [published("room_message", 1, "normal"), published("room_message", 2, "high")]
    first = plan(frames, {ROOM: {fast, slow}}, now=10.0, limits=LIMITS)
    assert texts(first.writes[slow]) == ["high", "normal"] and slow.backlogged_since == 10.0  # within grace
    later = plan(frames, {ROOM: {fast, slow}}, now=11.5, limits=LIMITS)
    assert texts(later.writes[fast]) == ["high", "normal"]
    assert texts(later.writes[slow]) == ["high"] and later.shed == 1


def test_a_reader_that_catches_up_loses_its_backlog_mark() -> None:
    sub = Sub("s", behind=LIMITS.soft + 1)
    plan([published("room_message", 1, "x")], {ROOM: {sub}}, now=5.0, limits=LIMITS)
    sub.behind = 0
    plan([published("room_message", 1, "y")], {ROOM: {sub}}, now=9.0, limits=LIMITS)
    assert sub.backlogged_since == 0.0


def test_a_reader_over_the_hard_limit_is_closed_once_and_gets_nothing() -> None:
    stuck = Sub("stuck", behind=LIMITS.hard + 1)
    out = plan([published("room_message", 3, "a"), published("room_message", 3, "b")], {ROOM: {stuck}},
               now=0.0, limits=LIMITS)
    assert out.closes == [stuck] and stuck not in out.writes


def test_closing_subscribers_and_other_channels_are_left_alone() -> None:
    gone, elsewhere = Sub("gone", closing=True), Sub("elsewhere")
    out = plan([published("room_message", 1, "x")], {ROOM: {gone}, USER: {elsewhere}}, now=0.0, limits=LIMITS)
    assert out.writes == {} and out.fanned[0][1] == 0


def test_a_kick_names_the_connection_to_close() -> None:
    old, new = Sub("old"), Sub("new")
    kick = published(KICK, 1, "", channel=USER, content={"conn_id": "old", "reason": "too many connections"})
    out = plan([kick], {USER: {old, new}}, now=0.0, limits=LIMITS)
    assert out.kicks == [(old, "too many connections")] and out.writes == {} and out.fanned == []


def test_low_notifications_are_set_aside_for_batching() -> None:
    sub = Sub("s")
    note = published("notification", int(Priority.LOW), "", channel=USER, frame_id="n_1",
                     content={"title": "t"})
    out = plan([note], {USER: {sub}}, now=0.0, limits=LIMITS)
    assert out.batched == [(USER, {"id": "n_1", "title": "t"})] and out.writes == {}
