"""Frames in, decided in pure code: strict decoding names what it refuses, and property-based fuzzing
(hypothesis, over 10,000 frames a run) shows that whatever a client sends ends as a parsed message
that any client could decode again, or as an error frame that can be sent — never anything else."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from spotctl_sandbox.hub.connection import INBOUND
from spotctl_sandbox.hub.features import MESSAGES
from spotctl_sandbox.realtime import protocol
from spotctl_sandbox.realtime.protocol import ErrorCode, ProtocolError

CODES = {ErrorCode.BAD_JSON, ErrorCode.BAD_ENVELOPE, ErrorCode.UNKNOWN_TYPE, ErrorCode.INVALID_CONTENT}


def refused(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as err:
        INBOUND.parse(raw)
    return err.value


@pytest.mark.parametrize(("raw", "where", "why"), [
    ('{"type":"room_message","content":{"room":"r","data":{"x":NaN}}}', "content['data']['x']", "NaN"),
    ('{"type":"session_control","content":{"session_id":"s","action":"volume","volume":NaN}}',
     "content['volume']", "NaN"),
    ('{"type":"room_message","content":{"room":"r","data":[1,-Infinity]}}', "content['data'][1]", "Infinity"),
    ('{"type":"time_sync","content":{"client_time":1e999}}', "content['client_time']", "finite"),
    ('{"type":"channel_join","content":{"channel_id":18446744073709551616}}', "content['channel_id']", "64-bit"),
    ('{"type":"channel_join","content":{"channel_id":' + "9" * 5000 + "}}", "content['channel_id']", "64-bit"),
    ('{"type":"chat_message","content":{"channel_id":1,"text":"a\\u0000b"}}', "content['text']", "\\u0000"),
    ('{"type":"chat_message","content":{"channel_id":1,"text":"\\ud800"}}', "content['text']", "surrogate"),
    ('{"type":"join","content":{"room":"r","\\udc00":1}}', "content['\\udc00']", "surrogate"),
    ('{"type":"ping","id":99999999999999999999999}', "id", "64-bit"),
])
def test_values_other_languages_break_on_are_refused_by_name(raw: str, where: str, why: str) -> None:
    error = refused(raw)
    assert error.code == ErrorCode.BAD_JSON and error.message.startswith(where) and why in error.message


def test_deep_nesting_is_refused_without_recursion() -> None:
    for depth in (40, 1_000, 100_000):
        raw = '{"type":"room_message","content":{"room":"r","data":' + "[" * depth + "]" * depth + "}}"
        error = refused(raw)
        assert error.code == ErrorCode.BAD_JSON and "nested deeper than 32" in error.message


def test_an_error_carries_the_request_id_when_the_frame_had_one() -> None:
    assert refused('{"type":"ping","id":"c9","content":{"x":NaN}}').reply_to == "c9"
    assert refused('{"type":"ping","id":"c9","content":{"x":1}}').reply_to == "c9"


def test_ordinary_frames_pass_untouched() -> None:
    frame = {"type": "room_message", "id": 5, "content": {"room": "r", "data": {"t": 1.5, "n": 2**63 - 1,
                                                                                "s": "héllo 😀 \\u0000"}}}
    msg = INBOUND.parse(json.dumps(frame))
    assert msg.content == frame["content"] and msg.request_id == "5"
    assert INBOUND.parse(json.dumps(frame, ensure_ascii=False).encode()).content == frame["content"]


def test_a_publisher_is_told_which_field_no_client_could_decode() -> None:
    with pytest.raises(ValueError, match=r"data\['score'\]: nan is not allowed"):
        protocol.check_sendable({"score": math.nan}, "data")
    with pytest.raises(ValueError):
        protocol.dumps({"x": math.inf})


# --- property-based fuzzing ------------------------------------------------------------------------

FIELDS = sorted({name for m in MESSAGES.values() for name in m.schema.get("properties", {})})
NAMES = [*FIELDS, "extra", "", "\x00", "\ud800"]
SCALARS = [None, True, False, 0, 1, -1, 7, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, 0.5,
           -0.0, 1e308, math.nan, math.inf, -math.inf, "", "lobby", "a b", "\x00", "a\x00b", "\ud800", "\udfff",
           "😀", "é", "x" * 300, "1-0", "e:1", "n_1", "public", "direct", "play", "volume", "HIGH", "websocket", "de",
           "AAAA", "not base64!", "online"]
VALUES = [*SCALARS, [], {}, ["a", 1], [math.nan], {"x": math.inf}, {"room": "r"}, [[["deep"]]], {"\x00": 1},
          {"a": {"b": [2**64]}}, [{"id": "f", "name": "n", "size": 1, "type": "t"}], ["websocket", "websocket"]]
KINDS = [*sorted(MESSAGES), "teleport", "", "auth", 7, None, ["join"]]
DEPTHS = [31, 33, 300]


# Hypothesis draws a recipe — ten small integers choosing from pools of hostile and ordinary values —
# and ten frames are built from it (the recipe and nine shifts of it): hypothesis costs ~0.3 ms per
# example here against ~0.05 ms to check a frame, so 1,000 examples check 10,000 frames in seconds, and a
# failure still shrinks to a short recipe.
SPREAD = 10
BOUNDS = (len(KINDS), 4, len(NAMES), len(VALUES), len(NAMES), len(VALUES), 12, len(VALUES), 20, 10_000)
STEPS = (7, 1, 5, 11, 3, 13, 5, 17, 3, 997)
recipes = st.tuples(*(st.integers(0, bound - 1) for bound in BOUNDS))


def spread(recipe: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [tuple((v + k * step) % bound for v, step, bound in zip(recipe, STEPS, BOUNDS, strict=True))
            for k in range(SPREAD)]


def frame_of(recipe: tuple[int, ...]) -> str | bytes:
    """Frames as a hostile client writes them: real types with the real field names and any values,
    nesting around the limit, NaN and friends, cut-off text, raw bytes."""
    kind, fields, name1, value1, name2, value2, wrap, rid, shape, cut = recipe
    content: Any = dict([(NAMES[name1], VALUES[value1]), (NAMES[name2], VALUES[value2])][:fields])
    if wrap == 0:
        content = VALUES[value1]
    elif wrap == 1:
        depth = DEPTHS[value1 % len(DEPTHS)]
        content = {"room": "r", "data": json.loads("[" * depth + "]" * depth)}
    frame: dict[str, Any] = {"type": KINDS[kind], "content": content}
    if wrap % 2:
        frame["id"] = VALUES[rid]
    text = json.dumps(frame, ensure_ascii=shape % 2 == 0)
    if shape == 0:
        return text.encode()[: cut % 40] + bytes([cut % 256])  # not UTF-8, not JSON
    if shape in (1, 2):
        return text[: cut % (len(text) + 1)]  # cut anywhere
    return text.encode("utf-8", "surrogatepass") if shape == 3 else text


def check_frame(raw: str | bytes) -> None:
    try:
        msg = INBOUND.parse(raw)
    except ProtocolError as exc:
        assert exc.code in CODES
        protocol.error_frame(exc.code, exc.message, exc.reply_to).encode()  # it can go out as it is
        return
    protocol.check_sendable(msg.content, "content")  # nothing another client could not decode
    assert json.loads(protocol.dumps(msg.content)) == msg.content
    assert msg.type in MESSAGES


@settings(max_examples=10_000 // SPREAD, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes)
def test_any_frame_parses_into_sendable_content_or_a_sendable_error(recipe: tuple[int, ...]) -> None:
    for variant in spread(recipe):
        raw = frame_of(variant)
        note(f"frame {raw!r}")
        check_frame(raw)
