"""Which alert notification went out on which channel (pure, bounded, in memory).

Alertmanager retries a webhook until it gets a 2xx. The receiver answers 503 while a channel fails
(say the hub, while Redis is down) and skips the channels already done when the retry comes, so a
retry completes a delivery instead of repeating it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    HUB = "hub"
    EMAIL = "email"
    PUSH = "push"


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to send on this channel (e.g. no ops user to notify)


@dataclass(frozen=True)
class Delivery:
    key: str
    channel: Channel
    outcome: Outcome
    detail: str
    title: str
    status: str
    at: float = field(default_factory=time.time)

    @property
    def done(self) -> bool:
        return self.outcome is not Outcome.FAILED

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "channel": self.channel.value, "outcome": self.outcome.value}


class Ledger:
    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, Channel], Delivery] = OrderedDict()

    def pending(self, key: str) -> list[Channel]:
        """The channels this notification has not reached yet."""
        return [c for c in Channel if not ((entry := self._entries.get((key, c))) and entry.done)]

    def record(self, delivery: Delivery) -> None:
        slot = (delivery.key, delivery.channel)
        self._entries.pop(slot, None)
        self._entries[slot] = delivery
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def recent(self, limit: int = 50) -> list[Delivery]:
        """Newest first."""
        return list(reversed(self._entries.values()))[:limit]
