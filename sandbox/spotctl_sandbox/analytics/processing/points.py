"""Window results as InfluxDB points (pure): the series layout the API, the ml side and docs share.

Database `analytics`; one measurement per series with field `value` (float) and `final` (false while
the minute is still open), tags `tenant` and `window` (1m, 5m, 1h, 5m-sliding, 1h-sliding); the point
time is the window's start. Plays per song and artist and hub frames per type are measurements
`song_plays` (tag `song_id`), `artist_plays` (tag `artist_id`) and `hub_frames` (tag `type`), final
windows only. A window written again (a replay) has the same series and time: it overwrites.
"""

from __future__ import annotations

from collections.abc import Iterable

from spotctl_sandbox.analytics.processing.windows import WindowResult
from spotctl_sandbox.analytics.storage.line_protocol import Point

BREAKDOWNS = {"song_plays": "song_id", "artist_plays": "artist_id", "hub_frames": "type"}


def window_points(results: Iterable[WindowResult]) -> list[Point]:
    points: list[Point] = []
    for r in results:
        tags = {"tenant": r.tenant, "window": r.window}
        for name, value in r.values.items():
            points.append(Point(name, {"value": float(value), "final": r.final}, tags, r.start))
        if not r.final:
            continue
        for measurement, counts in (("song_plays", r.songs), ("artist_plays", r.artists),
                                    ("hub_frames", r.hub_types)):
            tag = BREAKDOWNS[measurement]
            for key, n in counts.items():
                points.append(Point(measurement, {"value": float(n)}, {**tags, tag: key}, r.start))
    return points


def minute_features(result: WindowResult, delivery_p99_ms: float | None) -> dict[str, float | None]:
    """The row of analytics_minute_features a final 1 min window makes (the ml side's input)."""
    v = result.values
    return {"plays": int(v["plays"]), "active_users": int(v["active_users"]), "searches": int(v["searches"]),
            "signups": int(v["signups"]), "errors": int(v["errors"]), "hub_messages": int(v["hub_messages"]),
            "delivery_p99_ms": delivery_p99_ms}
