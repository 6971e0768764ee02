"""The TUI's screens, one line each: name (`spotctl tui --screen`, `:name`), key, title and where the
screen lives. A screen without a digit is reached with `:name` or the command palette.

Plain data, so `spotctl tui --help` can list the screens without importing Textual; the app imports
each screen class when it builds its modes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mode:
    name: str
    key: str  # a digit, or "" for none
    title: str
    screen: str  # "module:Class" under spotctl.tui.components

    def load(self) -> Any:
        module, _, cls = self.screen.partition(":")
        return getattr(importlib.import_module(f"spotctl.tui.components.{module}"), cls)


MODES = (
    Mode("services", "1", "Services", "services:ServicesScreen"),
    Mode("redis", "2", "Redis keys", "redis_keys:RedisScreen"),
    Mode("rabbit", "3", "RabbitMQ queues", "rabbit:RabbitScreen"),
    Mode("kafka", "4", "Kafka topics", "kafka:KafkaScreen"),
    Mode("jobs", "5", "BullMQ queues", "jobs:JobsScreen"),
    Mode("scenarios", "6", "Scenarios", "scenarios:ScenariosScreen"),
    Mode("metrics", "7", "Metrics", "observability:MetricsScreen"),
    Mode("alerts", "8", "Alerts", "observability:AlertsScreen"),
    Mode("hub", "9", "Hub", "hub:HubScreen"),
    Mode("pg", "0", "PostgreSQL", "pg:PgScreen"),
    Mode("docs", "", "Documents", "docs:DocsScreen"),
    Mode("load", "", "Load", "load:LoadScreen"),
    Mode("analytics", "", "Analytics", "analytics:AnalyticsScreen"),
)
NAMES = tuple(m.name for m in MODES)
