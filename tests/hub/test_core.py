"""The sans-I/O cores, tested as plain objects: no sockets, no Redis."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from typing import Any

import pytest

from spotctl_sandbox.hub.connection import INBOUND
from spotctl_sandbox.hub.core import fanout
from spotctl_sandbox.hub.core.batching import Batcher
from spotctl_sandbox.hub.core.breaker import Breaker
from spotctl_sandbox.hub.core.fanout import Published
from spotctl_sandbox.hub.core.listening import Action, PlaybackState
from spotctl_sandbox.hub.core.outbox import PriorityOutbox
from spotctl_sandbox.hub.core.playlist_diff import inverse_ops, summarize
from spotctl_sandbox.hub.core.presence import Presence, member, over_cap, status
from spotctl_sandbox.hub.core.ratelimit import ConnectionLimiter, Verdict
from spotctl_sandbox.realtime import protocol, templates
from spotctl_sandbox.realtime.client import backoff_delay
from spotctl_sandbox.realtime.priority import Priority, pending_score
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError
from spotctl_sandbox.realtime.routing import Channel, Preferences, route


def test_a_valid_frame_parses() -> None:
    msg = INBOUND.parse(json.dumps({"type": "join", "content": {"room": "lobby"}, "id": 7}))
    assert (msg.type, msg.content, msg.request_id) == ("join", {"room": "lobby"}, "7")


@pytest.mark.parametrize(("raw", "code", "says"), [
    ("{nope", ErrorCode.BAD_JSON, "not valid JSON"),
    ("[1, 2]", ErrorCode.BAD_ENVELOPE, "JSON object"),
    ('{"content": {}}', ErrorCode.BAD_ENVELOPE, "'type'"),
    ('{"type": "dance"}', ErrorCode.UNKNOWN_TYPE, "'dance'"),
    ('{"type": "join", "content": {}}', ErrorCode.INVALID_CONTENT, "'room' is a required property"),
    ('{"type": "chat_message", "content": {"channel_id": "x", "text": "hi"}}', ErrorCode.INVALID_CONTENT,
     "content['channel_id']"),
    ('{"type": "ping", "content": {"extra": 1}}', ErrorCode.INVALID_CONTENT, "Additional properties"),
    ('{"type": "ping", "id": true}', ErrorCode.BAD_ENVELOPE, "'id' must be a string or an integer"),
])
def test_bad_frames_name_the_problem(raw: str, code: str, says: str) -> None:
    with pytest.raises(ProtocolError) as err:
        INBOUND.parse(raw)
    assert err.value.code == code and says in err.value.message


def test_published_body_gets_its_id_without_reencoding() -> None:
    body = json.dumps(protocol.body("x", {"a": 1}, topic="room:r"))
    frame = json.loads(protocol.with_id("5-0", body))
    assert frame["id"] == "5-0" and frame["content"] == {"a": 1} and frame["timestamp"].endswith("Z")


def test_outbox_orders_by_priority_then_arrival() -> None:
    box: PriorityOutbox[str] = PriorityOutbox()
    for prio, item in [(Priority.LOW, "l"), (Priority.NORMAL, "n1"), (Priority.CRITICAL, "c"),
                       (Priority.NORMAL, "n2"), (Priority.HIGH, "h")]:
        box.push(prio, item)
    assert box.drain() == ["c", "h", "n1", "n2", "l"]


def test_pending_score_sorts_priority_before_age() -> None:
    assert pending_score(Priority.CRITICAL, 2e12) < pending_score(Priority.LOW, 1e12)
    assert pending_score(Priority.HIGH, 1e12) < pending_score(Priority.HIGH, 2e12)


def test_priority_parse_rejects_unknown_names() -> None:
    assert Priority.parse("high") is Priority.HIGH and Priority.parse(3) is Priority.CRITICAL
    with pytest.raises(ValueError, match="LOW, NORMAL, HIGH, CRITICAL"):
        Priority.parse("urgent")


def old_priority_parse(value: object) -> Priority:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Priority(value)
        except ValueError:
            pass
    elif isinstance(value, str) and value.upper() in Priority.__members__:
        return Priority[value.upper()]
    raise ValueError(f"priority must be one of {', '.join(Priority.__members__)} (or 0-3), got {value!r}")


@pytest.mark.parametrize("value", ["LOW", "normal", "High", "critical", "CRITICAL ", "", "x", "ß", "ﬀ", "low\x00",
                                   "_member_map_", "__class__", "mro", 0, 1, 3, 4, -1, True, False, None, 1.0, b"LOW"])
def test_priority_parse_answers_as_before(value: object) -> None:
    """The members' dict read directly, not through `__members__`' proxy: the same member or error."""
    def outcome(parse: Callable[[Any], Priority]) -> tuple[str, object]:
        try:
            return "ok", parse(value)
        except Exception as exc:
            return type(exc).__name__, str(exc)

    assert outcome(Priority.parse) == outcome(old_priority_parse)


def test_rate_limiter_rejects_then_closes_on_abuse() -> None:
    limiter = ConnectionLimiter.create(rate=1, burst=2, max_strikes=3)
    verdicts = [limiter.check(now=0.0) for _ in range(5)]
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.REJECT, Verdict.REJECT, Verdict.CLOSE]
    assert limiter.check(now=20.0) is Verdict.ALLOW  # refilled


def test_batcher_releases_after_the_interval() -> None:
    batcher: Batcher[int] = Batcher(interval_s=2.0)
    batcher.add("u1", 1, now=0.0)
    batcher.add("u1", 2, now=1.0)
    assert batcher.due(now=1.5) == []
    assert batcher.due(now=2.0) == [("u1", [1, 2])]
    assert len(batcher) == 0


def test_routing_follows_preferences_and_critical_always_reaches_push() -> None:
    prefs = Preferences.from_redis({"channels": "email,bogus", "locale": "xx"})
    assert prefs == Preferences(frozenset({Channel.EMAIL}), "en")
    assert route(Priority.NORMAL, prefs) == {Channel.EMAIL}
    assert route(Priority.CRITICAL, prefs) == {Channel.EMAIL, Channel.WEBSOCKET, Channel.PUSH}


def test_templates_are_localised() -> None:
    assert templates.render("new_follower", "fr", "t", "b", {"follower": "Ana"}) == \
        ("Nouvel abonné", "Ana vous suit désormais")
    assert templates.render("new_follower", "de", "t", "b", {}) == ("t", "b")  # missing data: caller's text
    assert templates.render("custom", "de", "t", "b", None) == ("t", "b")


def test_presence_and_connection_cap() -> None:
    assert status(0, away=True) is Presence.OFFLINE and status(2, away=True) is Presence.AWAY
    members = [member(ms, f"c{ms}") for ms in (30, 10, 20)]
    assert over_cap(members, cap=2) == [member(10, "c10")]


def test_late_joiner_position_follows_the_server_clock() -> None:
    state = PlaybackState(track_id="t1").apply(Action.PLAY, now_ms=1_000, position_ms=5_000)
    assert state.position_at(4_000) == 8_000
    paused = state.apply(Action.PAUSE, now_ms=6_000)
    assert paused.position_at(60_000) == 10_000 and paused.version == 2
    with pytest.raises(ValueError, match="seek needs position_ms"):
        paused.apply(Action.SEEK, now_ms=7_000)
    assert paused.apply(Action.SKIP, 7_000, track_id="t2").track_id == "t2"


def test_playlist_diff_and_its_inverse() -> None:
    added = summarize(["a", "b"], ["a", "x", "b"])
    assert added == {"op": "edit", "added": [{"track": "x", "index": 1}], "removed": []}
    assert inverse_ops(added, ["a", "x", "b", "y"]) == [("delete", 1, "x")]
    removed = summarize(["a", "b", "c"], ["a", "c"])
    assert inverse_ops(removed, ["a", "c"]) == [("insert", 1, "b")]
    moved = summarize(["a", "b", "c"], ["b", "c", "a"])
    assert moved == {"op": "move", "track": "a", "from": 0, "to": 2}
    assert inverse_ops(moved, ["b", "c", "a"]) == [("delete", 2, "a"), ("insert", 0, "a")]


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 8.0, rng) for n in range(8)]
    assert all(0.25 <= d <= 0.5 for d in delays[:1]) and all(4.0 <= d <= 8.0 for d in delays[5:])
    assert len({round(d, 6) for d in delays[5:]}) > 1  # jittered, not synchronized


def test_a_breaker_fails_calls_at_once_after_a_failure_then_lets_one_probe_through_per_cooldown() -> None:
    breaker = Breaker("postgres", cooldown_s=0.5)
    assert breaker.allow(0.0) and breaker.closed
    breaker.failed(1.0)
    assert not breaker.allow(1.2)  # open: no call waits out another bound
    assert breaker.allow(1.5)  # the cooldown is over: one probe ...
    assert not breaker.allow(1.6)  # ... and only one
    assert breaker.allow(2.0)  # a probe that never reached the dependency leaves room for the next
    breaker.succeeded()
    assert breaker.closed and breaker.allow(2.1) and breaker.allow(2.1)


def test_the_connection_bucket_judges_arrival_times_so_a_late_backlog_is_not_a_burst() -> None:
    limiter = ConnectionLimiter.create(rate=2, burst=2)
    arrivals = [i * 0.5 for i in range(20)]  # 2/s for 10 s, all handled at once afterwards
    assert [limiter.check(t) for t in arrivals] == [Verdict.ALLOW] * 20


def test_a_published_envelope_decodes_and_content_the_hub_reads_keeps_integers_beyond_64_bits() -> None:
    content = {"n": 2**70, "m": -(2**64), "f": 0.1, "g": 1e-7, "s": "é\u2028", "l": [1, -2, 3.5e300], "none": None}
    for kind in ("room_message", fanout.NOTIFICATION, fanout.BATCH, fanout.KICK):
        body = protocol.dumps(protocol.body(kind, content, topic="room:r", priority=2, origin="c1"))
        pub = Published.decode("ns:room:r", protocol.bus_payload("7-0", body).encode())
        assert (pub.frame_id, pub.body_json, pub.kind, pub.priority, pub.origin) == ("7-0", body, kind,
                                                                                     Priority.HIGH, "c1")
        assert pub.server_time == json.loads(body)["server_time"]
        if kind in fanout.CONTENT_READ:  # exact: json's reading, not orjson's float for 2**70
            assert pub.content == content and type(pub.content["n"]) is int


def test_ephemeral_ids_differ_in_a_forked_worker() -> None:
    """The hub forks its workers: ids drawn from `random` must not repeat the parent's sequence."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without pytest's teardown
        os.write(write, protocol.ephemeral_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    mine = protocol.ephemeral_id()
    assert child.startswith("e:") and len(child) == len(mine) == 18 and child != mine
