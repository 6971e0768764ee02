"""Notification priorities and a priority outbox.

Delivery order is decided here, not at the socket: a burst of pending messages is drained highest
priority first, first-in-first-out within one priority (so chat order is never shuffled).
"""

from __future__ import annotations

import heapq
import itertools
from enum import IntEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Priority(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, value: str | int) -> Priority:
        """Accept a name (any case) or a level; raise ValueError naming the allowed values."""
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        raise ValueError(f"priority must be one of {', '.join(cls.__members__)} (or 0-3), got {value!r}")


def pending_score(priority: Priority, created_ms: float) -> float:
    """Sort key for a Redis sorted set of pending notifications: priority desc, then age asc."""
    return (int(Priority.CRITICAL) - int(priority)) * 1e13 + created_ms


class PriorityOutbox(Generic[T]):
    """A priority queue with FIFO order inside one priority level."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []
        self._seq = itertools.count()

    def push(self, priority: Priority, item: T) -> None:
        heapq.heappush(self._heap, (-int(priority), next(self._seq), item))

    def pop(self) -> T:
        return heapq.heappop(self._heap)[2]

    def drain(self) -> list[T]:
        out = []
        while self._heap:
            out.append(self.pop())
        return out

    def __len__(self) -> int:
        return len(self._heap)
