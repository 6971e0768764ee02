"""BullMQ queues as `spotctl jobs` shows them: discovery from key names, counts, jobs (no I/O here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from spotctl.errors import UsageError
from spotctl_sandbox import contract

PREFIX = contract.BULL_PREFIX
CONTRACT_QUEUES = contract.BULL_QUEUES  # the stack's own queues, listed before any job exists
COUNT_STATES = ("waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed")


class CleanState(StrEnum):
    """States `clean` may empty."""

    completed = "completed"
    failed = "failed"
    waiting = "waiting"
    delayed = "delayed"
    prioritized = "prioritized"
    paused = "paused"

    @property
    def bull_set(self) -> str:
        """BullMQ's own name for the state's set (`waiting` lives in `wait`)."""
        return "wait" if self is CleanState.waiting else self.value


class ListState(StrEnum):
    failed = "failed"
    completed = "completed"
    waiting = "waiting"
    active = "active"
    delayed = "delayed"
    prioritized = "prioritized"


def queue_names(keys: Iterable[str], prefix: str = PREFIX) -> list[str]:
    """Queue names from `bull:<queue>:meta` / `bull:<queue>:id` keys, plus the contract's queues."""
    names = set(CONTRACT_QUEUES)
    for key in keys:
        head, _, rest = key.partition(":")
        name, _, suffix = rest.rpartition(":")
        if head == prefix and name and suffix in ("meta", "id"):
            names.add(name)
    return sorted(names)


def check_queue(name: str, known: Iterable[str]) -> None:
    """A queue the contract does not name and Redis holds nothing of is a typo, not an empty queue:
    say which queues there are instead of purging (or listing) nothing."""
    names = sorted(known)
    if name not in names:
        raise UsageError(f"no BullMQ queue {name!r}",
                         hint=f"known queues: {', '.join(names)} (see `spotctl jobs queues`)")


def counts_row(name: str, counts: Mapping[str, int], paused: bool) -> dict[str, Any]:
    return {"queue": name, "paused": paused, **{s: int(counts.get(s, 0)) for s in COUNT_STATES}}


def _when(ms: Any) -> str | None:
    if not ms:
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).isoformat(timespec="seconds")


def job_view(job: Any) -> dict[str, Any]:
    """The fields an operator needs from a bullmq.Job (typed Any: the library is untyped)."""
    trace = getattr(job, "stacktrace", None) or []
    return {"id": str(job.id), "name": job.name, "data": job.data,
            "attempts_made": int(job.attemptsMade or 0), "attempts": int(job.opts.get("attempts", 1) or 1),
            "failed_reason": job.failedReason, "stacktrace": trace[-1] if trace else None,
            "created": _when(job.timestamp), "processed": _when(job.processedOn),
            "finished": _when(job.finishedOn), "priority": int(job.priority or 0)}
