"""The frames' clock (realtime/clock.py) gives what its old expressions gave, for every input: `now_ms`
is `round(time.time() * 1000, 3)` and `iso` the `datetime` text (or the same error), over times from
year 1 to 9999, at second, minute, day and year boundaries and their neighbouring floats, at the
rounding ties of both, and now; `iso` remembers a second between calls, so calls come in sequences."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spotctl_sandbox.realtime import clock, protocol


def old_now_ms(t: float) -> float:
    return round(t * 1000, 3)


def old_iso(ms: Any) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome(function: Any, value: Any) -> tuple[str, str]:
    try:
        return "ok", function(value)
    except Exception as exc:  # the same error, word for word
        return type(exc).__name__, str(exc)


def neighbours(x: float, steps: int) -> list[float]:
    """`x` and the `steps` floats either side of it."""
    out, up, down = [x], x, x
    for _ in range(steps):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


YEAR_1_MS, YEAR_10000_MS = -62_135_596_800_000, 253_402_300_800_000
NOW_S = time.time()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@st.composite
def boundary_ms(draw: st.DrawFn) -> float:
    """A whole second, minute, day or year (or a random instant) from year 1 to 9999, give or take a
    little: a few microseconds, half a millisecond, a millisecond, or a few floats."""
    kind = draw(st.sampled_from(["second", "minute", "day", "year", "any"]))
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))).replace(tzinfo=UTC)
    if kind == "year":
        moment = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif kind == "day":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif kind == "minute":
        moment = moment.replace(second=0, microsecond=0)
    elif kind == "second":
        moment = moment.replace(microsecond=0)
    ms = (moment - EPOCH) / timedelta(milliseconds=1)
    ms += draw(st.sampled_from([0.0, 0.5, -0.5, 1.0, -1.0, 0.0005, -0.0005, 0.0015, 999.9995, -999.9995]))
    ms += draw(st.integers(-3, 3)) * draw(st.sampled_from([0.0, 0.001, 1e-6]))
    return draw(st.sampled_from(neighbours(ms, 2)))


NEAR_NOW = st.floats(NOW_S - 86_400 * 400, NOW_S + 86_400 * 400).map(lambda s: s * 1000)
ANY_MS = (st.floats(YEAR_1_MS - 1e6, YEAR_10000_MS + 1e6) | st.floats() | st.floats(0, 1e4)
          | st.integers(YEAR_1_MS - 10**6, YEAR_10000_MS + 10**6) | boundary_ms() | NEAR_NOW)


@settings(max_examples=1000)
@given(st.lists(ANY_MS, min_size=1, max_size=5))
def test_iso_is_the_datetime_text_or_its_error(values: list[float]) -> None:
    for ms in values:
        assert outcome(protocol.iso, ms) == outcome(old_iso, ms), ms


@settings(max_examples=300)
@given(NEAR_NOW, st.lists(st.floats(-1500, 1500) | st.sampled_from([0.0005, -0.0005, 999.9995]), max_size=8))
def test_iso_of_times_close_together_after_each_other(start: float, steps: list[float]) -> None:
    """Later calls take the remembered second's text: it must hold for every instant inside it only."""
    ms = start
    for step in [0.0, *steps]:
        ms += step
        for value in neighbours(ms, 1):
            assert protocol.iso(value) == old_iso(value), value


def test_iso_now_and_around_it() -> None:
    now = time.time() * 1000
    for k in range(-3000, 3000):
        ms = now + k * 0.4999
        assert protocol.iso(ms) == old_iso(ms), ms
    for ms in [0, 0.0, -0.0, 0.0004, 0.0005, 0.9994, 0.9995, 999.9995, 999.9994999, -0.0005, -1, -1000.0005]:
        assert outcome(protocol.iso, ms) == outcome(old_iso, ms), ms


@settings(max_examples=2000)
@given(st.floats() | st.floats(0, 1e13) | NEAR_NOW | st.integers(0, 2**52 - 1).map(lambda n: (n + 0.5) / 1000)
       | st.integers(0, 2**52 - 1).map(lambda n: n / 1000) | st.integers(0, 2**40).map(lambda n: (n + 0.5) / 1e6))
def test_now_ms_rounds_as_round_did(ms: float) -> None:
    """Ties (`(n + 0.5) / 1000`: a quarter of today's times are floats exactly on one) and their
    neighbouring floats included; compared by repr, so -0.0 and NaN count."""
    for value in neighbours(ms, 2) if math.isfinite(ms) else [ms]:
        assert repr(clock.round_ms(value)) == repr(round(value, 3)), value


def test_now_ms_is_the_clock_rounded() -> None:
    for _ in range(20_000):
        t = time.time()
        assert clock.round_ms(t * 1000) == old_now_ms(t)
    before = round(time.time() * 1000, 3)
    now = protocol.now_ms()
    assert before <= now <= round(time.time() * 1000, 3)
    assert now == round(now, 3)
