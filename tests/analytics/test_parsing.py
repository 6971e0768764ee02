"""Pure parts at the edges: event parsing (what goes to the dead-letter topic and why), line protocol,
metric queries."""

from __future__ import annotations

import pytest

from spotctl_sandbox.analytics.processing.events import Malformed, Source, parse
from spotctl_sandbox.analytics.storage.line_protocol import Point, encode
from spotctl_sandbox.analytics.storage.queries import MetricQuery, QueryError


def test_a_play_without_tenant_counts_for_default_and_hub_ts_in_ms_is_read() -> None:
    play = parse("song_played", b'{"event_id": "e1", "ts": 1700000000.5, "user_id": 7, "song_id": "42"}')
    assert (play.tenant, play.ts, play.user_id, play.song_id) == ("default", 1700000000.5, "7", "42")
    hub = parse("hub_activity", b'{"event_id": "h", "ts": 1700000000123, "tenant": "acme", "worker": 2, '
                                b'"connections": 3, "messages": {"chat": 2}, "deliveries": 1, "errors": 0}')
    assert hub.ts == pytest.approx(1700000000.123) and hub.hub is not None and hub.hub.messages == {"chat": 2}
    assert parse("x.plays", b'{"ts": 1, "user_id": 1, "song_id": 2}', source=Source.SONG_PLAYED).event_id \
        .startswith("sha1:")


@pytest.mark.parametrize(("topic", "value", "reason"), [
    ("song_played", b"{", "not JSON"),
    ("song_played", b"[1, 2]", "expected a JSON object"),
    ("song_played", b'{"ts": 1, "user_id": 1}', "'song_id' is missing"),
    ("song_played", b'{"ts": "now", "user_id": 1, "song_id": 1}', "'ts' must be an epoch number"),
    ("song_played", b'{"ts": -5, "user_id": 1, "song_id": 1}', "positive"),
    ("song_played", b'{"ts": 1, "user_id": 1, "song_id": 1, "tenant": "a b"}', "'tenant' must be"),
    ("user_registered", b'{"ts": 1}', "'user_id' is missing"),
    ("hub_activity", b'{"ts": 1, "messages": {"chat": -1}}', "'messages' must map"),
    ("hub_activity", b'{"ts": 1, "connections": "many"}', "'connections' must be"),
    ("song_played", b'{"ts": 1, "user_id": 1, "song_id": 1, "event_id": true}', "'event_id'"),
    ("other_topic", b"{}", "not one the analytics processor reads"),
])
def test_malformed_events_say_why(topic: str, value: bytes, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        parse(topic, value)


def test_line_protocol_escapes_and_writes_numbers_as_floats() -> None:
    point = Point("plays", {"value": 3, "final": True, "note": 'a "b"'}, {"tenant": "a b,c", "empty": ""}, 1.5)
    assert encode(point) == 'plays,tenant=a\\ b\\,c value=3.0,final=true,note="a \\"b\\"" 1500'
    with pytest.raises(ValueError, match="finite"):
        encode(Point("m", {"value": float("nan")}))


def test_a_metric_query_becomes_checked_influxql() -> None:
    q = MetricQuery.build(metric="plays", tenant="acme", start="1000", end="4600", step="5m", aggregation=None,
                          window=None, group_by="song_id")
    assert q.influxql() == (
        "SELECT sum(\"value\") AS value FROM \"plays\" WHERE time >= 1000000ms AND time < 4600000ms AND "
        "\"tenant\" = 'acme' AND \"window\" = '1m' GROUP BY time(300s), \"song_id\" fill(none)")
    assert MetricQuery.build(metric="active_users", tenant=None, start=None, end=None, step=None, aggregation=None,
                             window="5m", group_by=None).aggregation == "mean"
    with pytest.raises(QueryError, match="collected metric"):
        MetricQuery.build(metric="revenue", tenant=None, start=None, end=None, step=None, aggregation=None,
                          window="1m", group_by=None)


@pytest.mark.parametrize(("env", "says"), [
    ({"ANALYTICS_CONSUMER_MODE": "fast"}, "ANALYTICS_CONSUMER_MODE='fast' is not group or assign"),
    ({"ANALYTICS_LATENESS_S": "soon"}, "ANALYTICS_LATENESS_S='soon' is not a number"),
    ({"ANALYTICS_SPILL_MAX": "-1"}, "ANALYTICS_SPILL_MAX"),
])
def test_a_bad_setting_names_its_variable(env: dict[str, str], says: str) -> None:
    from spotctl_sandbox.analytics.config import AnalyticsConfig
    from spotctl_sandbox.common.env import Env, EnvError

    with pytest.raises(EnvError, match=says):
        AnalyticsConfig.from_env(Env(env))
