"""The monitor's settings: the shared service settings plus who hears about alerts, and how."""

from __future__ import annotations

import os
from dataclasses import dataclass

from spotctl_sandbox.common.settings import Settings


@dataclass(frozen=True)
class MonitorConfig:
    settings: Settings
    #: The mailbox alert emails go to (the SMTP sink keeps whatever it receives).
    alert_email_to: str = "ops@spotify.local"
    alert_email_from: str = "spotctl alerts <alerts@spotify.local>"
    #: Users who get alerts on the hub besides those whose role is ops/admin: ids or emails.
    ops_users: tuple[str, ...] = ()
    #: How long a collected figure (Kafka lag, BullMQ depth) is reused by the next scrape.
    collect_ttl_s: float = 2.0

    @classmethod
    def from_env(cls) -> MonitorConfig:
        raw_users = os.environ.get("OPS_USERS", "")
        return cls(
            settings=Settings.from_env(),
            alert_email_to=os.environ.get("ALERT_EMAIL_TO", "").strip() or cls.alert_email_to,
            alert_email_from=os.environ.get("ALERT_EMAIL_FROM", "").strip() or cls.alert_email_from,
            ops_users=tuple(u.strip() for u in raw_users.split(",") if u.strip()),
        )
