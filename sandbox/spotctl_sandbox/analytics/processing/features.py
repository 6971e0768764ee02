"""The feature pipeline's queries and one pure calculation: the contract tables the ml side reads.

- analytics_minute_features: a tenant's final 1 min windows from InfluxDB (plays, active users,
  searches, sign-ups, errors, hub messages) plus the hub's delivery p99 of that minute, taken from
  the hub's Prometheus histogram (the bucket counts' growth since the previous scrape).
- analytics_user_features: 7 days of listening per user. Tenant `default` reads PostgreSQL's
  listening_history (which the workers fill from the API's plays and `spotctl seed` fills with
  history); other tenants read their counted `song_played` events from the event store. Night is
  00:00-05:59 UTC, the weekend Saturday and Sunday UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

MINUTE_SERIES = ("plays", "active_users", "searches", "signups", "errors", "hub_messages")

UPSERT_MINUTE = """
INSERT INTO analytics_minute_features AS f
    (tenant, minute, plays, active_users, searches, signups, errors, hub_messages, delivery_p99_ms)
VALUES (%(tenant)s, %(minute)s, %(plays)s, %(active_users)s, %(searches)s, %(signups)s, %(errors)s,
        %(hub_messages)s, %(delivery_p99_ms)s)
ON CONFLICT (tenant, minute) DO UPDATE SET
    plays = EXCLUDED.plays, active_users = EXCLUDED.active_users, searches = EXCLUDED.searches,
    signups = EXCLUDED.signups, errors = EXCLUDED.errors, hub_messages = EXCLUDED.hub_messages,
    delivery_p99_ms = COALESCE(EXCLUDED.delivery_p99_ms, f.delivery_p99_ms)
"""

USER_FEATURES = """
WITH plays AS (
    SELECT 'default'::text AS tenant, lh.user_id, lh.song_id::text AS song, s.artist_id::text AS artist,
           lh.played_at AS at
    FROM listening_history lh JOIN songs s ON s.id = lh.song_id
    WHERE lh.played_at >= %(since)s AND lh.played_at < %(until)s
  UNION ALL
    SELECT e.tenant, (e.body->>'user_id')::bigint, e.body->>'song_id', coalesce(e.body->>'artist_id', ''), e.ts
    FROM analytics_events e
    WHERE e.kind = 'song_played' AND e.status = 'counted' AND e.tenant <> 'default'
      AND e.ts >= %(since)s AND e.ts < %(until)s AND e.body->>'user_id' ~ '^[0-9]{1,18}$'
)
INSERT INTO analytics_user_features AS u (tenant, user_id, plays_7d, distinct_songs_7d, distinct_artists_7d,
                                          night_share, weekend_share, avg_plays_per_day, updated_at)
SELECT tenant, user_id, count(*), count(DISTINCT song), count(DISTINCT nullif(artist, '')),
       avg(CASE WHEN extract(hour FROM at AT TIME ZONE 'UTC') < 6 THEN 1.0 ELSE 0.0 END),
       avg(CASE WHEN extract(isodow FROM at AT TIME ZONE 'UTC') >= 6 THEN 1.0 ELSE 0.0 END),
       count(*) / 7.0, %(now)s
FROM plays GROUP BY tenant, user_id
ON CONFLICT (tenant, user_id) DO UPDATE SET
    plays_7d = EXCLUDED.plays_7d, distinct_songs_7d = EXCLUDED.distinct_songs_7d,
    distinct_artists_7d = EXCLUDED.distinct_artists_7d, night_share = EXCLUDED.night_share,
    weekend_share = EXCLUDED.weekend_share, avg_plays_per_day = EXCLUDED.avg_plays_per_day,
    updated_at = EXCLUDED.updated_at
"""
# Users with no play in the 7 days are no longer described: their rows go in the same transaction.
# Only tenants this job reads from (listening history, the event store) lose rows: a tenant whose
# features came from elsewhere (`spotctl analytics simulate`) keeps them.
DROP_STALE_USERS = """
DELETE FROM analytics_user_features WHERE updated_at < %(now)s
  AND (tenant = 'default' OR tenant IN (SELECT DISTINCT tenant FROM analytics_events WHERE kind = 'song_played'))
"""
# The event store keeps what the user features read (7 days) and a day more to look back on.
EVENT_RETENTION = "DELETE FROM analytics_events WHERE ts < %(now)s - interval '8 days'"


def histogram_quantile(q: float, before: Mapping[float, float], after: Mapping[float, float]) -> float | None:
    """The q-quantile (in the buckets' unit) of what a cumulative Prometheus histogram gained.

    Buckets are `le` upper bounds with cumulative counts (+Inf included); linear inside a bucket, as
    PromQL's histogram_quantile does. None when nothing was observed in between.
    """
    bounds = sorted(after)
    gained = [after[b] - before.get(b, 0.0) for b in bounds]
    if not gained or gained[-1] <= 0 or any(g < 0 for g in gained):  # nothing new, or the hub restarted
        return None
    rank = q * gained[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, gained, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


def parse_delivery_buckets(text: str, metric: str = "hub_delivery_latency_seconds") -> dict[float, float]:
    """Cumulative bucket counts summed over the hub's workers, from its /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name == f"{metric}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return buckets
