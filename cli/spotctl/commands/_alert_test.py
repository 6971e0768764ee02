"""`spotctl alerts test`: one synthetic alert through Alertmanager, followed to where it landed.

The alert carries a fresh `test_id`; Alertmanager routes it (at once, see its `SpotctlTestAlert`
route) to the monitor, which notifies ops users on the hub, mails the SMTP sink and pushes to the
push sink. We read the monitor's delivery log and the sinks themselves, then resolve the alert.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

TEST_ALERT = "SpotctlTestAlert"
CHANNELS = ("hub", "email", "push")
NO_OPS_HINT = ("no user has an ops/admin role: set OPS_USERS=<user id or email> and restart the monitor "
               "(`spotctl down monitor && OPS_USERS=... spotctl up monitor`)")


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    outcome: str  # landed | skipped | failed | missing
    where: str


@dataclass(frozen=True)
class TestReport:
    test_id: str
    channels: tuple[ChannelResult, ...]
    hint: str = ""

    @property
    def ok(self) -> bool:
        return all(c.outcome in ("landed", "skipped") for c in self.channels)

    def as_json(self) -> dict[str, Any]:
        return {"test_id": self.test_id, "ok": self.ok, "channels": [asdict(c) for c in self.channels],
                **({"hint": self.hint} if self.hint else {})}


def judge(test_id: str, deliveries: Mapping[str, Mapping[str, Any]], email: Mapping[str, Any] | None,
          push: Mapping[str, Any] | None, waited_s: float) -> TestReport:
    """Pure: the monitor's word per channel, checked against what the sinks hold."""
    results, hint = [], ""
    for channel in CHANNELS:
        delivery = deliveries.get(channel)
        if delivery is None:
            results.append(ChannelResult(channel, "missing", f"no delivery within {waited_s:g} s "
                                         "(see `spotctl logs monitor` and `spotctl logs alertmanager`)"))
            continue
        outcome, detail = str(delivery["outcome"]), str(delivery.get("detail", ""))
        if outcome == "skipped":
            results.append(ChannelResult(channel, "skipped", detail))
            hint = NO_OPS_HINT if channel == "hub" else hint
        elif outcome == "failed":
            results.append(ChannelResult(channel, "failed", detail))
        elif channel == "email":
            results.append(ChannelResult(channel, "landed", f"SMTP sink: {email['subject']!r} to {email['to']}")
                           if email else ChannelResult(channel, "missing", f"sent ({detail}) but not in the SMTP sink"))
        elif channel == "push":
            results.append(ChannelResult(channel, "landed", f"push sink: id {push['id']}")
                           if push else ChannelResult(channel, "missing", f"sent ({detail}) but not in the push sink"))
        else:
            results.append(ChannelResult(channel, "landed", f"hub: {detail}"))
    return TestReport(test_id, tuple(results), hint)


def _latest(deliveries: Sequence[Mapping[str, Any]], test_id: str) -> dict[str, Mapping[str, Any]]:
    """Newest firing delivery per channel for this test (the list comes newest first)."""
    found: dict[str, Mapping[str, Any]] = {}
    for d in deliveries:
        if test_id in str(d.get("title", "")) and d.get("status") == "firing":
            found.setdefault(str(d["channel"]), d)
    return found


def run_test(alertmanager_url: str, monitor_url: str, workers_url: str, timeout: float) -> TestReport:
    from spotctl.clients.monitor import MonitorClient, SinksClient
    from spotctl.clients.prometheus import AlertmanagerClient

    test_id = uuid.uuid4().hex[:8]
    labels = {"alertname": TEST_ALERT, "severity": "critical", "service": "spotctl", "test_id": test_id}
    annotations = {"summary": f"Test alert {test_id} (spotctl alerts test)",
                   "description": "Nothing is wrong: this checks that alerts reach the hub, the mailbox and the phone."}
    started = dt.datetime.now(dt.UTC)
    alert = {"labels": labels, "annotations": annotations, "startsAt": started.isoformat()}
    began = time.monotonic()
    with AlertmanagerClient(alertmanager_url) as am, MonitorClient(monitor_url) as monitor, \
            SinksClient(workers_url) as sinks:
        am.post([{**alert, "endsAt": (started + dt.timedelta(minutes=5)).isoformat()}])
        try:
            while True:
                deliveries = _latest(monitor.deliveries(), test_id)
                email = next((m for m in sinks.emails() if test_id in str(m.get("subject", ""))), None)
                push = next((p for p in sinks.pushes()
                             if test_id in str((p.get("payload") or {}).get("title", ""))), None)
                report = judge(test_id, deliveries, email, push, round(time.monotonic() - began, 1))
                if report.ok or time.monotonic() - began > timeout:
                    return report
                time.sleep(0.3)
        finally:  # resolve it: the resolved notification goes out too, and nothing stays firing
            am.post([{**alert, "endsAt": dt.datetime.now(dt.UTC).isoformat()}])
