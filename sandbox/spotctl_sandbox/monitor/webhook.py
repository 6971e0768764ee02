"""Alertmanager's webhook payload and the message it becomes (pure: no I/O).

Alertmanager sends one POST per alert group and retries it until it gets a 2xx, so the same group
may arrive again: `AlertGroup.key` is the same for a retry and differs for any real change (another
status, another alert, a new start), which is what lets the receiver deliver each change once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Hub priority per alert severity: pages are CRITICAL (they also push), warnings HIGH.
PRIORITY = {"critical": "CRITICAL", "warning": "HIGH", "info": "NORMAL"}
MAX_ALERTS_LISTED = 10


class WebhookError(ValueError):
    """The body is not an Alertmanager webhook payload; the text says what is wrong."""


class _Alert(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: str = Field("", alias="startsAt")
    ends_at: str = Field("", alias="endsAt")
    fingerprint: str = ""


class _Payload(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: str
    receiver: str = ""
    group_key: str = Field(alias="groupKey")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    truncated_alerts: int = Field(0, alias="truncatedAlerts")
    alerts: list[_Alert]


@dataclass(frozen=True)
class Alert:
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or self.name


@dataclass(frozen=True)
class AlertGroup:
    status: str  # firing when any alert of the group fires
    group_key: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    alerts: tuple[Alert, ...]
    truncated: int = 0

    @property
    def key(self) -> str:
        """Stable across Alertmanager's retries of this notification, new for any change in it."""
        parts = [self.group_key, self.status] + sorted(
            f"{a.fingerprint}|{a.status}|{a.starts_at}|{a.ends_at if a.status == 'resolved' else ''}"
            for a in self.alerts)
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.common_labels.get("alertname") or (self.alerts[0].name if self.alerts else "alert")

    @property
    def severity(self) -> str:
        return self.common_labels.get("severity", "warning")


def parse(body: bytes) -> AlertGroup:
    try:
        payload = _Payload.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise WebhookError(f"not an Alertmanager webhook payload: {where}: {first.get('msg')}") from None
    return AlertGroup(
        status=payload.status, group_key=payload.group_key, group_labels=payload.group_labels,
        common_labels=payload.common_labels, common_annotations=payload.common_annotations,
        truncated=payload.truncated_alerts,
        alerts=tuple(Alert(a.status, a.labels, a.annotations, a.starts_at, a.ends_at, a.fingerprint)
                     for a in payload.alerts))


@dataclass(frozen=True)
class Message:
    """One alert group, worded once for every channel."""

    key: str
    status: str
    title: str
    body: str
    priority: str
    data: dict[str, Any] = field(default_factory=dict)


def _when(stamp: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(alert: Alert) -> str:
    where = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())
                      if k not in ("alertname", "severity"))
    if alert.status == "resolved":
        since = f"resolved {_when(alert.ends_at)}"
    else:
        since = f"since {_when(alert.starts_at)}"
    text = f"- {alert.summary} [{where}] {since}"
    description = alert.annotations.get("description")
    return f"{text}\n  {description}" if description else text


def render(group: AlertGroup) -> Message:
    firing = [a for a in group.alerts if a.status == "firing"]
    shown = firing if group.status == "firing" else list(group.alerts)
    count = len(shown) + group.truncated
    tag = group.status.upper() + (f":{count}" if count > 1 else "")
    summary = group.common_annotations.get("summary") or (shown[0].summary if shown else group.name)
    title = f"[{tag}] {group.name}: {summary}"
    lines = [_line(a) for a in shown[:MAX_ALERTS_LISTED]]
    hidden = count - len(lines)
    if hidden > 0:
        lines.append(f"... and {hidden} more")
    return Message(
        key=group.key, status=group.status, title=title, body="\n".join(lines),
        priority=PRIORITY.get(group.severity, "HIGH"),
        data={"alertname": group.name, "status": group.status, "severity": group.severity,
              "labels": group.common_labels, "alerts": count, "key": group.key})
