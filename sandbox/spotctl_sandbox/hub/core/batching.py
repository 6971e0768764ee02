"""Batching of low-priority notifications: collect per user, release one batch per interval.

Low-priority items are not worth a frame (and a phone wake-up) each; the first item of a user opens a
window and everything that arrives within `interval_s` leaves together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Batcher(Generic[T]):
    interval_s: float
    max_items: int = 100
    _open: dict[str, tuple[float, list[T]]] = field(default_factory=dict)

    def add(self, key: str, item: T, now: float) -> list[T] | None:
        """Queue an item; returns a full batch at once when `max_items` is reached."""
        opened, items = self._open.setdefault(key, (now, []))
        items.append(item)
        if len(items) >= self.max_items:
            del self._open[key]
            return items
        return None

    def due(self, now: float) -> list[tuple[str, list[T]]]:
        """Batches whose window has closed, removed from the batcher."""
        ready = [k for k, (opened, _) in self._open.items() if now - opened >= self.interval_s]
        return [(k, self._open.pop(k)[1]) for k in ready]

    def __len__(self) -> int:
        return sum(len(items) for _, items in self._open.values())
