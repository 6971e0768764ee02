"""The TUI's screens, one line each: name (`spotctl tui --screen`), key, title and where the screen lives.

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
    key: str
    title: str
    screen: str  # "module:Class" under spotctl.tui.components

    def load(self) -> Any:
        module, _, cls = self.screen.partition(":")
        return getattr(importlib.import_module(f"spotctl.tui.components.{module}"), cls)


MODES = (
    Mode("services", "1", "Services", "services:ServicesScreen"),
    Mode("redis", "2", "Redis keys", "redis_keys:RedisScreen"),
    Mode("rabbit", "3", "RabbitMQ queues", "queues:RabbitScreen"),
    Mode("kafka", "4", "Kafka topics", "queues:KafkaScreen"),
    Mode("jobs", "5", "BullMQ queues", "queues:JobsScreen"),
    Mode("scenarios", "6", "Scenarios", "scenarios:ScenariosScreen"),
)
NAMES = tuple(m.name for m in MODES)
