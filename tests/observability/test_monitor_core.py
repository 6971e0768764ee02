"""The monitor's pure parts: Alertmanager's webhook payload, the message it becomes, the delivery ledger
and the Kafka lag table. No sockets: these are decisions, tested as such."""

from __future__ import annotations

import json

import pytest

from spotctl_sandbox.monitor.kafka_lag import lag_table
from spotctl_sandbox.monitor.ledger import Channel, Delivery, Ledger, Outcome
from spotctl_sandbox.monitor.webhook import WebhookError, parse, render


def payload(status: str = "firing", *alerts: dict[str, object], severity: str = "critical") -> bytes:
    alerts = alerts or ({"status": status, "labels": {"alertname": "RedisDown", "severity": severity,
                                                      "service": "redis", "instance": "redis-exporter:9121"},
                         "annotations": {"summary": "Redis does not answer", "description": "Start it."},
                         "startsAt": "2026-12-02T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                         "fingerprint": "abc123"},)
    return json.dumps({"version": "4", "status": status, "receiver": "spotctl",
                       "groupKey": '{}:{alertname="RedisDown"}',
                       "groupLabels": {"alertname": "RedisDown"},
                       "commonLabels": {"alertname": "RedisDown", "severity": severity, "service": "redis"},
                       "commonAnnotations": {"summary": "Redis does not answer"}, "truncatedAlerts": 0,
                       "alerts": list(alerts)}).encode()


def test_a_firing_critical_alert_becomes_a_critical_message_naming_it() -> None:
    message = render(parse(payload()))
    assert message.title == "[FIRING] RedisDown: Redis does not answer"
    assert message.priority == "CRITICAL" and message.status == "firing"
    assert "instance=redis-exporter:9121" in message.body and "since 2026-12-02 10:00:00 UTC" in message.body
    assert "Start it." in message.body


def test_warnings_are_high_priority_and_resolved_alerts_say_so() -> None:
    assert render(parse(payload(severity="warning"))).priority == "HIGH"
    resolved = dict(json.loads(payload())["alerts"][0], status="resolved", endsAt="2026-12-02T10:05:00Z")
    message = render(parse(payload("resolved", resolved)))
    assert message.title.startswith("[RESOLVED] RedisDown") and "resolved 2026-12-02 10:05:00 UTC" in message.body


def test_a_retry_has_the_same_key_and_a_change_a_new_one() -> None:
    first, retry = parse(payload()), parse(payload())
    assert first.key == retry.key
    resolved = dict(json.loads(payload())["alerts"][0], status="resolved", endsAt="2026-12-02T10:05:00Z")
    assert parse(payload("resolved", resolved)).key != first.key
    again = dict(json.loads(payload())["alerts"][0], startsAt="2026-12-02T11:00:00Z")  # fired anew later
    assert parse(payload("firing", again)).key != first.key


def test_a_group_of_many_alerts_lists_ten_and_counts_the_rest() -> None:
    base = json.loads(payload())["alerts"][0]
    many = [dict(base, fingerprint=str(i), labels={**base["labels"], "instance": f"i{i}"}) for i in range(12)]
    message = render(parse(payload("firing", *many)))
    assert message.title.startswith("[FIRING:12] ") and message.body.endswith("... and 2 more")


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"status": "firing", "alerts": "x", "groupKey": "g"}'])
def test_a_body_that_is_not_a_webhook_payload_is_refused_with_the_reason(body: bytes) -> None:
    with pytest.raises(WebhookError, match="not an Alertmanager webhook payload"):
        parse(body)


def test_the_ledger_hands_out_only_the_channels_still_missing() -> None:
    ledger = Ledger(capacity=4)
    assert ledger.pending("k1") == [Channel.HUB, Channel.EMAIL, Channel.PUSH]
    ledger.record(Delivery("k1", Channel.EMAIL, Outcome.SENT, "to ops", "t", "firing"))
    ledger.record(Delivery("k1", Channel.HUB, Outcome.FAILED, "redis down", "t", "firing"))
    ledger.record(Delivery("k1", Channel.PUSH, Outcome.SKIPPED, "nobody", "t", "firing"))
    assert ledger.pending("k1") == [Channel.HUB]
    assert [d.channel for d in ledger.recent()] == [Channel.PUSH, Channel.HUB, Channel.EMAIL]
    for i in range(5):  # bounded: the oldest entries go
        ledger.record(Delivery(f"k{i + 2}", Channel.EMAIL, Outcome.SENT, "", "t", "firing"))
    assert len(ledger.recent(100)) == 4 and ledger.pending("k1") == list(Channel)


def test_lag_is_log_end_minus_committed_and_never_negative() -> None:
    rows = lag_table({"analytics": {("song_played", 0): 90, ("song_played", 1): 12}, "idle": {("gone", 0): 5}},
                     {("song_played", 0): 100, ("song_played", 1): 10})
    assert [(r.group, r.partition, r.lag) for r in rows] == [("analytics", 0, 10), ("analytics", 1, 0)]
