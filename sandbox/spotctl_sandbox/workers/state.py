"""Each worker's state and counters, as GET /health reports them (pure, no I/O).

The process is up as soon as its HTTP server is; a worker whose dependency is down shows as
`waiting` with the last error, so an operator sees *what* is missing instead of a dead process.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any


class WorkerState(enum.StrEnum):
    STARTING = "starting"
    WAITING = "waiting"  # a dependency is unreachable; retrying with backoff
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"  # a bug, not an outage: the detail holds the error; the other workers go on


@dataclass
class WorkerStatus:
    state: WorkerState = WorkerState.STARTING
    detail: str = ""
    since: float = field(default_factory=time.time)
    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0


class Health:
    """The registry every worker reports into."""

    def __init__(self, names: list[str]) -> None:
        self._workers = {name: WorkerStatus() for name in names}
        self.started_at = time.time()

    def add(self, name: str) -> None:
        """Workers register themselves when built, so /health lists them before they start."""
        self._workers.setdefault(name, WorkerStatus())

    def set(self, name: str, state: WorkerState, detail: str = "") -> None:
        status = self._workers[name]
        if status.state is not state:
            status.since = time.time()
        status.state, status.detail = state, detail

    def count(self, name: str, *, processed: int = 0, failed: int = 0, dead_lettered: int = 0) -> None:
        status = self._workers[name]
        status.processed += processed
        status.failed += failed
        status.dead_lettered += dead_lettered

    def state(self, name: str) -> WorkerState:
        return self._workers[name].state

    @property
    def status(self) -> str:
        """'ok' when every worker runs, 'degraded' otherwise (the HTTP status stays 200)."""
        running = all(s.state is WorkerState.RUNNING for s in self._workers.values())
        return "ok" if running else "degraded"

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "uptime_s": round(time.time() - self.started_at, 1),
            "workers": {
                name: {"state": s.state.value, "detail": s.detail, "since": round(s.since, 3),
                       "processed": s.processed, "failed": s.failed, "dead_lettered": s.dead_lettered}
                for name, s in self._workers.items()
            },
        }
