"""BullMQ queues through the `bullmq` package's Queue API, so what is seen is what the workers see.

Async (the library is); `run(url, work)` drives one unit of work on an event loop for the sync
callers (`spotctl jobs`, `spotctl purge jobs`, the TUI's thread workers). The guide awaits the same
client directly. On a Redis Cluster (`redis+cluster://`) the queues live under the hash-tagged prefix
the workers use there (`contract.bull_prefix`), each Queue on a cluster client of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from spotctl.clients.reach import reaching, require
from spotctl.clients.redis import KEY, errors, key_of, open_async, open_sync
from spotctl.errors import SpotctlError
from spotctl.inspect.jobs_view import (
    COUNT_STATES,
    CleanState,
    check_queue,
    counts_row,
    job_view,
    queue_names,
)

if TYPE_CHECKING:
    from bullmq import Queue

T = TypeVar("T")


class JobsClient:
    """Queues opened on first use and closed together; use it as `async with JobsClient(url) as jobs:`.

    A queue is read or changed only when it is known (the contract's, or one Redis holds keys of): an
    unknown name is a UsageError listing the known ones. `enqueue` may start a new queue.
    """

    def __init__(self, url: str) -> None:
        from spotctl_sandbox import contract
        from spotctl_sandbox.common import redisconn

        self.url = require(KEY, url)
        self.cluster = redisconn.is_cluster_url(self.url)
        self.prefix = contract.bull_prefix(self.cluster)
        self._queues: dict[str, Queue] = {}
        self._known: list[str] | None = None

    async def __aenter__(self) -> JobsClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        queues, self._queues = list(self._queues.values()), {}
        for queue in queues:
            await queue.close()

    def queue(self, name: str) -> Queue:
        if name not in self._queues:
            from bullmq import Queue

            # a cluster client per queue, as the workers have: Queue.close() closes its connection
            connection = open_async(self.url, decode_responses=True) if self.cluster else self.url
            self._queues[name] = Queue(name, {"connection": connection, "prefix": self.prefix})
        return self._queues[name]

    async def queue_names(self) -> list[str]:
        """Every queue found by its keys (`<prefix>:<queue>:meta|id`; on a cluster SCAN runs on every
        master), plus the contract's own."""
        client = open_async(self.url, decode_responses=True, socket_connect_timeout=2)
        try:
            keys = [k async for k in client.scan_iter(match=f"{self.prefix}:*", count=1000)
                    if k.endswith((":meta", ":id"))]
        finally:
            await client.aclose()
        self._known = queue_names(keys, self.prefix)
        return self._known

    async def known(self, name: str) -> Queue:
        """The queue `name`, or a UsageError listing the known queues."""
        if self._known is None or name not in self._known:  # made since the last look?
            await self.queue_names()
        check_queue(name, self._known or ())
        return self.queue(name)

    async def counts(self, name: str, states: Sequence[str] = COUNT_STATES) -> dict[str, int]:
        return {k: int(v) for k, v in (await (await self.known(name)).getJobCounts(*states)).items()}

    async def overview(self) -> list[dict[str, Any]]:
        """Every queue with its job counts per state and whether it is paused."""
        rows = []
        for name in await self.queue_names():
            queue = self.queue(name)
            rows.append(counts_row(name, await self.counts(name), bool(await queue.isPaused())))
        return rows

    async def jobs(self, name: str, state: str, limit: int) -> list[dict[str, Any]]:
        """Jobs of one state, newest first, as `job_view` shapes them."""
        return [job_view(j) for j in await (await self.known(name)).getJobs([state], 0, limit - 1)]

    async def job(self, name: str, job_id: str) -> dict[str, Any] | None:
        """One job with its state and return value, or None when the queue holds no such job."""
        from bullmq import Job

        queue = await self.known(name)
        found = await Job.fromId(queue, job_id)
        if found is None:
            return None
        return {**job_view(found), "state": await queue.getJobState(job_id), "returnvalue": found.returnvalue}

    async def retry(self, name: str, job_ids: Sequence[str] | None) -> list[str]:
        """Move failed jobs (all of them when `job_ids` is None) back to waiting; their ids."""
        from bullmq import Job

        queue = await self.known(name)
        if job_ids is None:
            ids = [str(j.id) for j in await queue.getJobs(["failed"])]
            await queue.retryJobs({"state": "failed"})
            return ids
        for job_id in job_ids:
            job = await Job.fromId(queue, job_id)
            if job is None:
                raise SpotctlError(f"no job {job_id!r} in queue {name!r}")
            if await queue.getJobState(job_id) != "failed":
                raise SpotctlError(f"job {job_id} is not failed; only failed jobs are retried")
            await job.retry("failed")
        return list(job_ids)

    async def clean(self, name: str, state: CleanState, grace_s: float, limit: int) -> int:
        """Remove jobs in one state older than `grace_s` (at most `limit`, 0 = all); how many went."""
        return len(await (await self.known(name)).clean(int(grace_s * 1000), limit, state.bull_set))

    async def enqueue(self, name: str, job_name: str, data: dict[str, Any], opts: dict[str, Any]) -> tuple[str, bool]:
        """Add a job; its id, and whether the queue is new (no worker of the stack consumes it)."""
        new = name not in await self.queue_names()
        return str((await self.queue(name).add(job_name, data, opts)).id), new

    async def purge(self, name: str, obliterate: bool) -> None:
        """Drain the waiting, prioritized and delayed jobs, or with `obliterate` every job in any state."""
        queue = await self.known(name)
        if obliterate:
            await queue.obliterate(force=True)
        else:
            await queue.drain(delayed=True)


def run(url: str, work: Callable[[JobsClient], Awaitable[T]]) -> T:
    """`work(client)` on a fresh event loop, the client closed afterwards; an unreachable Redis is one
    ServiceDown line (checked with a PING first: bullmq would otherwise retry for a long time)."""
    target = require(KEY, url)
    with reaching(key_of(target), target, *errors(), OSError):
        probe = open_sync(target, socket_connect_timeout=2)
        try:
            probe.ping()
        finally:
            probe.close()
        return asyncio.run(_with_client(target, work))


async def _with_client(url: str, work: Callable[[JobsClient], Awaitable[T]]) -> T:
    async with JobsClient(url) as client:
        return await work(client)
