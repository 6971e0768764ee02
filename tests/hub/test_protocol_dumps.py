"""`protocol.dumps` takes orjson's fast path only where it writes json's bytes: the text every frame
and bus payload carries is exactly `json.dumps(value, separators=(",", ":"), allow_nan=False)`, or
the same error, for any value (hypothesis: text with escapes and non-ASCII, 64-bit edges and beyond,
floats of every exponent, NaN and Infinity, non-text keys)."""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotctl_sandbox.realtime import protocol


def reference(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


SCALARS = (st.none() | st.booleans() | st.text() | st.floats()
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 1e-7, 1e-5, 1e16,
                              1e22, 5e-324, 1.7976931348623157e308, -0.0, "null", "é", "\x7f", "\x00\x1f"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4), max_leaves=20)


def outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return "ok", encode(value)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, ""


@settings(max_examples=500)  # 2,000 found the two differences fixed; CI time is shared
@given(VALUES)
def test_the_same_text_or_the_same_error_as_json(value: Any) -> None:
    assert outcome(protocol.dumps, value) == outcome(reference, value)


class Level(IntEnum):
    HIGH = 3


@pytest.mark.parametrize("value", [
    {"p": Level.HIGH}, {Level.HIGH: "x"}, (1, 2), {"t": (1.5, "a")}, [float("inf")], {"a": float("nan")},
    {"x": object()}, {(1, 2): 3}, {"deep": [[[[1e-9]]]]},
])
def test_odd_values_are_answered_as_json_answers_them(value: Any) -> None:
    assert outcome(protocol.dumps, value) == outcome(reference, value)
