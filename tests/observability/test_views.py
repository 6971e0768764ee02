"""What `spotctl metrics`, `spotctl alerts`, `spotctl ps` and the TUI make of the answers they get
(pure functions: sparklines, matchers, alert merging, a /health body's complaints, the test verdict)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from spotctl.commands._alert_test import judge
from spotctl.errors import UsageError
from spotctl.inspect.alerts_view import (
    ManagedAlert,
    Matcher,
    RuleAlert,
    age,
    merge_alerts,
    parse_duration,
    parse_matchers,
)
from spotctl.inspect.metrics_view import number, series_name, sparkline, with_unit
from spotctl.stack.probes import problems

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def test_a_sparkline_spans_min_to_max_keeps_gaps_and_a_short_dip() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8, math.nan, 1]) == "▁▂▃▄▅▆▇█ ▁"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    squeezed = sparkline([1.0] * 80 + [0.0, 0.0] + [1.0] * 38, width=30)
    assert len(squeezed) == 30 and "▁" in squeezed and squeezed.count("█") == 29


def test_series_and_numbers_read_like_prometheus_writes_them() -> None:
    assert series_name({"__name__": "up", "job": "api", "instance": "a:1"}) == 'up{instance="a:1",job="api"}'
    assert series_name({}) == "{}" and number(3.0) == "3" and number(math.nan) == "NaN"
    assert number(0.012345) == "0.01235"
    assert with_unit(0.25, "ratio") == "25.0%" and with_unit(0.0032, "s") == "3.2 ms"
    assert with_unit(3 * 1024**3, "bytes") == "3.0 GiB" and with_unit(math.nan, "") == "-"


def test_silence_matchers_and_durations() -> None:
    assert parse_matchers(["RedisDown", "service=~redis|postgres", "instance!=x"]) == [
        Matcher("alertname", "RedisDown"), Matcher("service", "redis|postgres", regex=True),
        Matcher("instance", "x", equal=False)]
    assert str(Matcher("service", "redis", regex=True, equal=False)) == "service!~redis"
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    for bad in (["=x"], ["a b"], []):
        with pytest.raises(UsageError):
            parse_matchers(bad)
    with pytest.raises(UsageError, match="bad duration"):
        parse_duration("soon")


def test_alerts_merge_prometheus_states_with_alertmanager_suppression() -> None:
    redis = {"alertname": "RedisDown", "severity": "critical", "service": "redis"}
    lag = {"alertname": "KafkaConsumerStalled", "severity": "warning", "group": "analytics"}
    test = {"alertname": "SpotctlTestAlert", "severity": "critical", "test_id": "t1"}
    rules = [RuleAlert(lag, {"summary": "stalled"}, "pending", NOW, 20.0),
             RuleAlert(redis, {"summary": "Redis does not answer"}, "firing", NOW - dt.timedelta(minutes=5), 0.0)]
    managed = [ManagedAlert(redis, {}, "suppressed", NOW, "f1", silenced_by=("s1",)),
               ManagedAlert(test, {"summary": "test"}, "active", NOW, "f2")]
    rows = merge_alerts(rules, managed)
    assert [(r.name, r.state) for r in rows] == [("SpotctlTestAlert", "firing"), ("KafkaConsumerStalled", "pending"),
                                                 ("RedisDown", "silenced")]
    assert rows[2].silenced_by == ("s1",) and rows[2].labels == {"service": "redis"}
    assert age(NOW - dt.timedelta(minutes=192), NOW) == "3h12m" and age(None) == ""


def test_a_health_body_names_what_is_wrong() -> None:
    assert problems({"status": "ok", "dependencies": {"redis": {"ok": True}}}) == []
    assert problems({"status": "degraded", "degraded": ["redis"],
                     "dependencies": {"redis": {"ok": False, "error": "Connection refused"}}}) == [
        "redis (Connection refused)"]
    workers = {"status": "degraded", "degraded": [], "workers": {"analytics": {"state": "stalled"},
                                                                 "email": {"state": "running"}}}
    assert problems(workers) == ["analytics: stalled"]
    assert problems({"status": "degraded", "degraded": ["schema"]}) == ["schema"]
    assert problems({"status": "starting", "workers": 2, "ready": 1}) == []


def test_the_alert_test_verdict_checks_the_sinks_not_just_the_monitors_word() -> None:
    sent = {c: {"channel": c, "outcome": "sent", "detail": "ok"} for c in ("hub", "email", "push")}
    mail, push = {"subject": "[FIRING] SpotctlTestAlert: t1", "to": "ops@spotify.local"}, {"id": "p1"}
    assert judge("t1", sent, mail, push, 2.0).ok
    missing = judge("t1", sent, None, push, 2.0)
    assert not missing.ok and missing.channels[1].outcome == "missing"
    nobody = judge("t1", {**sent, "hub": {"channel": "hub", "outcome": "skipped", "detail": "no ops"}}, mail, push, 2)
    assert nobody.ok and "OPS_USERS" in nobody.hint
    assert [c.outcome for c in judge("t1", {}, None, None, 30).channels] == ["missing"] * 3
