"""Run one BullMQ worker with its health entry: wait for Redis, process, close gracefully.

A processor raises UnrecoverableError for input that can never succeed (no retries), and lets
connection errors propagate so BullMQ retries the job with exponential backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import bullmq
from bullmq import UnrecoverableError

from spotctl_sandbox.common import logs
from spotctl_sandbox.workers import metrics
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.dlq import MalformedMessage
from spotctl_sandbox.workers.retrying import until_ready
from spotctl_sandbox.workers.state import WorkerState

log = logging.getLogger(__name__)

Processor = Callable[[bullmq.Job], Awaitable[Any]]


class BullWorker:
    """One queue, a table of processors by job name, a concurrency."""

    def __init__(self, deps: Deps, name: str, queue: str, processors: dict[str, Processor],
                 concurrency: int = 4) -> None:
        self.deps, self.name, self.queue = deps, name, queue
        self.processors = processors
        self.concurrency = concurrency
        self._worker: bullmq.Worker | None = None
        self._queue: bullmq.Queue | None = None  # for its counts: the `stalled` judgement
        deps.health.add(name)

    async def run(self) -> None:
        await until_ready(self.deps.health, self.name, "redis", self.deps.redis.ping)
        self._worker = bullmq.Worker(self.queue, self._process, self.deps.bull_options(
            concurrency=self.concurrency, name=f"spotctl-{self.name}"))
        self._worker.on("error", self._on_error)
        self._queue = bullmq.Queue(self.queue, self.deps.bull_options())
        self.deps.health.set(self.name, WorkerState.RUNNING, f"queue {self.queue}, concurrency {self.concurrency}")
        log.info("%s: consuming BullMQ queue %s", self.name, self.queue)

    async def stop(self) -> None:
        """Stop taking jobs and wait for the ones in flight (BullMQ's close without force)."""
        if self._worker is not None:
            self.deps.health.set(self.name, WorkerState.STOPPING)
            await self._worker.close()
        if self._queue is not None:
            await self._queue.close()
        self.deps.health.set(self.name, WorkerState.STOPPED)

    def observe_redis(self, error: str | None) -> None:
        """The runner's Redis probe: BullMQ reconnects by itself; /health should say when it must."""
        if self._worker is None or self.deps.stopping.is_set():
            return  # not started yet: until_ready reports; stopping: leave STOPPING alone
        state = self.deps.health.state(self.name)
        if error is not None and state is WorkerState.RUNNING:
            self.deps.health.set(self.name, WorkerState.WAITING, f"redis unreachable ({error}); BullMQ reconnects")
        elif error is None and state is WorkerState.WAITING:
            self.deps.health.set(self.name, WorkerState.RUNNING, f"queue {self.queue}, redis is back")

    async def observe_backlog(self) -> None:
        """Jobs ready to run (not those waiting out a retry backoff) against progress: `stalled`."""
        if self._queue is None or self.deps.stopping.is_set():
            return
        counts = await self._queue.getJobCounts("wait", "prioritized")
        self.deps.health.observe_backlog(self.name, sum(int(v) for v in counts.values()))

    def _on_error(self, err: Exception, *_: Any) -> None:
        log.warning("%s: BullMQ worker error: %s", self.name, err)

    async def _process(self, job: bullmq.Job, token: str) -> Any:
        with logs.bound(logs.of(job.data)):  # the request that enqueued it, for `spotctl trace`
            return await self._run(job)

    async def _run(self, job: bullmq.Job) -> Any:
        processor = self.processors.get(job.name)
        started = time.perf_counter()
        try:
            if processor is None:
                raise UnrecoverableError(f"no processor for job {job.name!r} on queue {self.queue!r}")
            try:
                result = await processor(job)
            except MalformedMessage as exc:
                raise UnrecoverableError(f"malformed job data: {exc}") from exc
        except Exception as exc:
            metrics.JOBS.labels(self.queue, job.name, "failed").inc()
            self.deps.health.count(self.name, failed=1)
            log.warning("%s: job %s (%s) attempt %d failed: %s", self.name, job.id, job.name,
                        job.attemptsMade + 1, exc)
            raise
        metrics.JOBS.labels(self.queue, job.name, "completed").inc()
        metrics.JOB_SECONDS.labels(self.queue, job.name).observe(time.perf_counter() - started)
        if logs.current():
            log.info("%s: job %s (%s) done in %.1f ms", self.name, job.id, job.name,
                     (time.perf_counter() - started) * 1000)
        self.deps.health.count(self.name, processed=1)
        if self.deps.health.state(self.name) is WorkerState.WAITING:
            self.deps.health.set(self.name, WorkerState.RUNNING)
        return result
