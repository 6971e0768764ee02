"""Frame priorities (LOW … CRITICAL), as published frames carry them and notifications are ordered."""

from __future__ import annotations

from enum import IntEnum


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
        elif isinstance(value, str):  # the members' own dict: `__members__` builds a proxy per call
            member = cls._member_map_.get(value.upper())  # (per room message: 0.55 -> 0.2 µs, issue 18)
            if member is not None:
                return member  # type: ignore[return-value]
        raise ValueError(f"priority must be one of {', '.join(cls.__members__)} (or 0-3), got {value!r}")


def pending_score(priority: Priority, created_ms: float) -> float:
    """Sort key for a Redis sorted set of pending notifications: priority desc, then age asc."""
    return (int(Priority.CRITICAL) - int(priority)) * 1e13 + created_ms
