"""The frames' clock: `server_time` (epoch milliseconds to the microsecond) and `timestamp` (ISO 8601).

Every published body and every reply carries both (protocol.py), so they were per-message costs of
the hub: `round(t * 1000, 3)` formats and parses a decimal string (~0.4 µs) and a `datetime` per
timestamp ~1.2 µs (issue 18: `iso` 3.1 %, `now_ms` 1.4 % of a loaded worker's samples). The texts and
values are the same as those expressions' for every input; tests/hub/test_clock.py holds them equal
(hypothesis) to `round(ms, 3)` and to the `datetime` expression kept here as `iso_of_datetime`.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

_HALVES_EXACT = 2.0**52  # below it every n + 0.5 is a float


def now_ms() -> float:
    """Epoch milliseconds, rounded to 3 decimals: `round(time.time() * 1000, 3)`."""
    return round_ms(time.time() * 1000)


def round_ms(ms: float) -> float:
    """`round(ms, 3)`, without its decimal string where that is sure to change nothing (~0.2 µs, not 0.43).

    `round` rounds the float's exact value half to even. Rounding to a float is monotonic and keeps a
    float as it is, so the float `ms * 1000` lies on the same side of every n + 0.5 (a float, below
    2**52) as the exact product: its `round` is the exact product's unless it *is* some n + 0.5, which
    `round(ms, 3)` then decides (a quarter of today's times: their product's floats are quarters).
    `micro / 1000` (both below 2**53) is the float nearest the decimal, as `round`'s parse of its string
    is. Zero, negative, huge and NaN go to `round` too."""
    scaled = ms * 1000
    if 0 < scaled < _HALVES_EXACT:
        micro = round(scaled)
        if abs(scaled - micro) != 0.5:
            return micro / 1000
    return round(ms, 3)


def iso_of_datetime(ms: float) -> str:
    """`2026-12-03T06:39:50.123Z`: the definition, through `datetime` (~1.2 µs); `iso` is its fast path."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_MILLIS = tuple(f"{n:03d}Z" for n in range(1000))
_second: tuple[float, str] = (math.nan, "")  # the last whole second formatted, and its text up to the "."


def iso(ms: float) -> str:
    """`iso_of_datetime(ms)`, formatting the date and time once per whole second.

    `datetime.fromtimestamp(t)` splits t with C's `modf` into whole seconds and a fraction, which it
    rounds half to even to microseconds (carrying into the next second at 1,000,000); `isoformat` then
    cuts the microseconds to milliseconds. The same split here (Python's `round` of a float is the
    same half-even rounding) finds the microseconds; the date and time of a second not seen last are
    formatted by `iso_of_datetime`, which also answers (or raises for) everything unusual: a negative
    time, a carry, NaN, out of range."""
    global _second
    seconds = ms / 1000
    if type(seconds) is float:
        fraction, whole = math.modf(seconds)
        cached, prefix = _second
        if whole == cached and fraction >= 0:
            micros = round(fraction * 1e6)
            if micros < 1_000_000:
                return prefix + _MILLIS[micros // 1000]
        text = iso_of_datetime(ms)
        if fraction >= 0 and round(fraction * 1e6) < 1_000_000:
            _second = (whole, text[:-4])
        return text
    return iso_of_datetime(ms)
