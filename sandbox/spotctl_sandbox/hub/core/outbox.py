"""A priority outbox: delivery order is decided here, not at the socket.

A burst of pending messages is drained highest priority first, first-in-first-out within one
priority (so chat order is never shuffled).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

from ...realtime.priority import Priority

T = TypeVar("T")


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
