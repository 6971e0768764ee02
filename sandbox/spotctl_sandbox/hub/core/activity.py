"""What one worker did per tenant, counted in memory and handed out as one event per tenant per
interval: the `hub_activity` contract with analytics.

    {"event_id", "ts" (epoch ms), "tenant", "worker", "connections", "messages": {type: n},
     "deliveries", "errors"}

Counting is a dict update on paths the hub already takes (a frame in, a burst out, an error out);
the events leave in one produce per interval. Pure.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Tally:
    messages: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    errors: int = 0


class Activity:
    def __init__(self, worker: int) -> None:
        self.worker = worker
        self.connections: Counter[str] = Counter()  # open connections per tenant, now
        self._tallies: dict[str, Tally] = {}

    def _tally(self, tenant: str) -> Tally:
        tally = self._tallies.get(tenant)
        if tally is None:
            tally = self._tallies[tenant] = Tally()
        return tally

    def connected(self, tenant: str) -> None:
        self.connections[tenant] += 1
        self._tally(tenant)  # seen in this interval even if it does nothing else

    def disconnected(self, tenant: str) -> None:
        self.connections[tenant] -= 1
        if self.connections[tenant] <= 0:
            del self.connections[tenant]
        self._tally(tenant)

    def message(self, tenant: str, kind: str) -> None:
        self._tally(tenant).messages[kind] += 1

    def delivered(self, tenant: str, count: int) -> None:
        if count:
            self._tally(tenant).deliveries += count

    def error(self, tenant: str) -> None:
        self._tally(tenant).errors += 1

    def events(self, now_ms: int) -> list[dict[str, Any]]:
        """One event per tenant seen since the last call (activity or open connections); resets."""
        tallies, self._tallies = self._tallies, {}
        tenants = sorted(set(tallies) | set(self.connections))
        empty = Tally()
        return [{"event_id": str(uuid.uuid4()), "ts": now_ms, "tenant": tenant, "worker": self.worker,
                 "connections": self.connections.get(tenant, 0),
                 "messages": dict(tallies.get(tenant, empty).messages),
                 "deliveries": tallies.get(tenant, empty).deliveries, "errors": tallies.get(tenant, empty).errors}
                for tenant in tenants]
