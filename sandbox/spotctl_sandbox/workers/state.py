"""Each worker's state and counters, as GET /health reports them (pure, no I/O).

The process is up as soon as its HTTP server is; a worker whose dependency is down shows as
`waiting` with the last error, so an operator sees *what* is missing instead of a dead process.
A worker that is connected but makes no progress while work waits for it (a hung store, a consumer
the broker forgot) shows as `stalled`: backlog > 0 and nothing processed for `STALL_S`.
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
    STALLED = "stalled"  # work waits (backlog > 0) and nothing was processed for STALL_S


STALL_S = 15.0


@dataclass
class WorkerStatus:
    state: WorkerState = WorkerState.STARTING
    detail: str = ""
    since: float = field(default_factory=time.time)
    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    progressed_at: float = field(default_factory=time.time)  # last processed item (or start)
    backlog_since: float | None = None  # since when work has been waiting


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

    def progress(self, name: str) -> None:
        """Work got done (even work that turned out to be a duplicate): not stalled."""
        self._workers[name].progressed_at = time.time()
        if self._workers[name].state is WorkerState.STALLED:
            self.set(name, WorkerState.RUNNING, "progressing again")

    def count(self, name: str, *, processed: int = 0, failed: int = 0, dead_lettered: int = 0) -> None:
        status = self._workers[name]
        if processed or dead_lettered:
            self.progress(name)
        status.processed += processed
        status.failed += failed
        status.dead_lettered += dead_lettered

    def observe_backlog(self, name: str, backlog: int | None, now: float | None = None, why: str = "") -> bool:
        """A watchdog's reading: `backlog` items wait (None: could not tell). Marks the worker
        `stalled` (True) when work has waited, with nothing processed, for STALL_S; back to
        `running` once the backlog is gone. Only a running (or stalled) worker is judged:
        `waiting` already says its dependency is down."""
        status = self._workers[name]
        now = time.time() if now is None else now
        if status.state not in (WorkerState.RUNNING, WorkerState.STALLED):
            status.backlog_since = None
            return False
        if backlog == 0:
            status.backlog_since = None
            if status.state is WorkerState.STALLED:
                self.set(name, WorkerState.RUNNING, "caught up")
            return False
        if status.backlog_since is None:
            status.backlog_since = now
        idle = now - max(status.backlog_since, status.progressed_at)
        if idle < STALL_S:
            return status.state is WorkerState.STALLED
        waiting = "work waiting" if backlog is None else f"{backlog} waiting"
        detail = f"{waiting}, nothing processed for {idle:.0f}s" + (f"; {why}" if why else "")
        self.set(name, WorkerState.STALLED, detail)
        return True

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
