"""The monitor's own series (the collected ones are built per scrape in `collectors`)."""

from __future__ import annotations

from prometheus_client import Counter

ALERTS = Counter("spotctl_monitor_alert_notifications_total", "Alertmanager notifications received",
                 ["status"])
DELIVERIES = Counter("spotctl_monitor_alert_deliveries_total", "Alert deliveries by channel and outcome",
                     ["channel", "outcome"])
