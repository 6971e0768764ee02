"""Which local connections follow which bus channel: the worker's subscriber registry.

The bus is subscribed to a channel once per worker, when its first local subscriber arrives, and
unsubscribed when the last one leaves; `subscribe`/`unsubscribe` say when that happens. Pure.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar


class Member(Hashable, Protocol):
    id: str


C = TypeVar("C", bound=Member)


class Registry(Generic[C]):
    def __init__(self) -> None:
        self.conns: dict[str, C] = {}
        self.subs: dict[str, set[C]] = {}  # channel -> local subscribers

    def add(self, conn: C) -> None:
        self.conns[conn.id] = conn

    def remove(self, conn: C) -> bool:
        """Forget the connection (its subscriptions are left to `unsubscribe`); False if unknown."""
        return self.conns.pop(conn.id, None) is not None

    def subscribe(self, conn: C, channel: str) -> bool:
        """Add `conn` to `channel`; True if it is the channel's first local subscriber."""
        members = self.subs.get(channel)
        if members is None:
            self.subs[channel] = {conn}
            return True
        members.add(conn)
        return False

    def unsubscribe(self, conn: C, channel: str) -> bool:
        """Remove `conn` from `channel`; True if that left the channel without local subscribers."""
        members = self.subs.get(channel)
        if members is None or conn not in members:
            return False
        members.discard(conn)
        if members:
            return False
        del self.subs[channel]
        return True

    def __len__(self) -> int:
        return len(self.conns)
