"""`spotctl jobs`: BullMQ queues with counts per state, failed jobs and why, retry, clean, enqueue.

Everything goes through the `bullmq` package's Queue API, so what you see is what the workers see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from spotctl.inspect.jobs_view import CleanState, ListState
from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json

if TYPE_CHECKING:
    from bullmq import Queue

KEY = "REDIS_URL"
T = TypeVar("T")
UrlOpt = Annotated[str | None, typer.Option("--url", help="Redis URL of the queues (default: $REDIS_URL, then "
                                           "the stack).", show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N jobs.")]

app = typer.Typer(help="Inspect and drive BullMQ queues: counts, failed jobs, retry, clean, enqueue.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs", help="Inspect BullMQ job queues (counts, failures, retry, clean, enqueue).")


def run(url: str | None, work: Callable[[str], Awaitable[T]]) -> T:
    """Run `work(redis_url)` on an event loop; an unreachable Redis is one ServiceDown line."""
    import redis

    from spotctl.endpoints import resolve
    from spotctl.inspect.reach import reaching, require

    target = require(KEY, resolve({KEY: url}).redis_url)
    with reaching(KEY, target, redis.ConnectionError, redis.TimeoutError, OSError):
        redis.Redis.from_url(target, socket_connect_timeout=2).ping()
        return asyncio.run(_guarded(work(target)))


async def _guarded(work: Awaitable[T]) -> T:
    return await work


def open_queue(url: str, name: str) -> Queue:
    from bullmq import Queue

    return Queue(name, {"connection": url})


async def _with_queue(url: str, name: str, fn: Callable[[Queue], Awaitable[T]]) -> T:
    queue = open_queue(url, name)
    try:
        return await fn(queue)
    finally:
        await queue.close()


@app.command("queues")
def queues_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Every queue (found by its keys, plus the stack's own) with job counts per state."""
    from spotctl.inspect.jobs_view import COUNT_STATES, PREFIX, counts_row, queue_names

    async def work(target: str) -> list[dict[str, Any]]:
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(target, decode_responses=True)
        keys = [k async for k in client.scan_iter(match=f"{PREFIX}:*", count=1000)
                if k.endswith((":meta", ":id"))]
        await client.aclose()
        rows = []
        for name in queue_names(keys):
            async def one(q: Queue, name: str = name) -> dict[str, Any]:
                return counts_row(name, await q.getJobCounts(*COUNT_STATES), bool(await q.isPaused()))
            rows.append(await _with_queue(target, name, one))
        return rows

    rows = run(url, work)
    emit(rows, output, ("queue", *COUNT_STATES, "paused"),
         [(r["queue"], *(r[s] for s in COUNT_STATES), "yes" if r["paused"] else "") for r in rows],
         title="BullMQ queues")


def _show_jobs(queue: str, state: str, jobs: list[dict[str, Any]], output: OutputFormat) -> None:
    from spotctl.inspect.values import cell

    if output is OutputFormat.json:
        print_json({"queue": queue, "state": state, "jobs": jobs})
        return
    info(f"{len(jobs)} {state} job(s) in {queue}")
    emit(None, output, ("id", "name", "attempts", "finished", "reason" if state == "failed" else "data"),
         [(j["id"], j["name"], f"{j['attempts_made']}/{j['attempts']}", j["finished"] or "",
           cell(j["failed_reason"] if state == "failed" else j["data"], 70)) for j in jobs])


def list_jobs(queue: str, state: ListState, limit: int, url: str | None, output: OutputFormat) -> None:
    from spotctl.inspect.jobs_view import job_view

    async def work(target: str) -> list[dict[str, Any]]:
        async def get(q: Queue) -> list[dict[str, Any]]:
            return [job_view(j) for j in await q.getJobs([state.value], 0, limit - 1)]
        return await _with_queue(target, queue, get)

    _show_jobs(queue, state.value, run(url, work), output)


@app.command("failed")
def failed_cmd(queue: str, limit: LimitOpt = 20, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Failed jobs of QUEUE, newest first, with the reason and attempts made."""
    list_jobs(queue, ListState.failed, limit, url, output)


@app.command("list")
def list_cmd(queue: str, state: Annotated[ListState, typer.Option("--state", "-s")] = ListState.waiting,
             limit: LimitOpt = 20, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Jobs of QUEUE in one state, newest first."""
    list_jobs(queue, state, limit, url, output)


@app.command("retry")
def retry_cmd(queue: str,
              job_ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids; omit with --all.")] = None,
              all_failed: Annotated[bool, typer.Option("--all", help="Retry every failed job.")] = False,
              url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Move failed jobs back to waiting, so the workers run them again."""
    from bullmq import Job

    from spotctl.errors import SpotctlError, UsageError

    if bool(job_ids) == all_failed:
        raise UsageError("name job ids, or pass --all (not both)")

    async def work(target: str) -> list[str]:
        async def go(q: Queue) -> list[str]:
            if all_failed:
                ids = [str(j.id) for j in await q.getJobs(["failed"])]
                await q.retryJobs({"state": "failed"})
                return ids
            for job_id in job_ids or []:
                job = await Job.fromId(q, job_id)
                if job is None:
                    raise SpotctlError(f"no job {job_id!r} in queue {queue!r}")
                if await q.getJobState(job_id) != "failed":
                    raise SpotctlError(f"job {job_id} is not failed; only failed jobs are retried")
                await job.retry("failed")
            return list(job_ids or [])
        return await _with_queue(target, queue, go)

    ids = run(url, work)
    emit({"queue": queue, "retried": ids}, output, ("queue", "retried"), [(queue, len(ids))])


@app.command("clean")
def clean_cmd(
    queue: str,
    state: Annotated[CleanState, typer.Option("--state", "-s", help="Which jobs to remove.")] = CleanState.completed,
    grace: Annotated[float, typer.Option("--grace", min=0, help="Keep jobs younger than S seconds.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Remove at most N (0 = all).")] = 0,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Remove jobs in one state (shows the count and asks first; --yes to skip)."""
    removed = clean_jobs(queue, state, grace, limit, yes, url)
    emit({"queue": queue, "state": state.value, "removed": removed}, output, ("queue", "state", "removed"),
         [(queue, state.value, removed)])


def clean_jobs(queue: str, state: CleanState, grace: float, limit: int, yes: bool, url: str | None) -> int:
    async def count(target: str) -> int:
        async def go(q: Queue) -> int:
            return int((await q.getJobCounts(state.value)).get(state.value, 0))
        return await _with_queue(target, queue, go)

    async def clean(target: str) -> int:
        async def go(q: Queue) -> int:
            return len(await q.clean(int(grace * 1000), limit, state.bull_set))
        return await _with_queue(target, queue, go)

    n = run(url, count)
    confirm(f"remove {'up to ' if grace or limit else ''}{n} {state.value} job(s) from BullMQ queue {queue!r}", yes)
    return run(url, clean)


@app.command("enqueue")
def enqueue_cmd(
    queue: str, name: Annotated[str, typer.Argument(help="Job name, e.g. update_recently_played.")],
    data: Annotated[str, typer.Argument(help="Job data as a JSON object.")] = "{}",
    delay: Annotated[float, typer.Option("--delay", min=0, help="Seconds before it may run.")] = 0,
    attempts: Annotated[int, typer.Option("--attempts", min=1)] = 1,
    priority: Annotated[int | None, typer.Option("--priority", min=1, help="1 is the highest.")] = None,
    job_id: Annotated[str | None, typer.Option("--job-id", help="Custom id (deduplicates).")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Add a job, as a producer in the stack would."""
    from spotctl.inspect.values import parse_json_object

    payload = parse_json_object(data, "job data")
    opts: dict[str, Any] = {"attempts": attempts, "delay": int(delay * 1000)}
    if priority is not None:
        opts["priority"] = priority
    if job_id is not None:
        opts["jobId"] = job_id

    async def work(target: str) -> str:
        async def go(q: Queue) -> str:
            return str((await q.add(name, payload, opts)).id)
        return await _with_queue(target, queue, go)

    new_id = run(url, work)
    emit({"queue": queue, "name": name, "id": new_id}, output, ("queue", "name", "id"), [(queue, name, new_id)])


def purge_jobs(queue: str, obliterate: bool, yes: bool, url: str | None, output: OutputFormat) -> None:
    """Drop waiting/delayed jobs (or the whole queue with `obliterate`); used by `spotctl purge jobs`."""
    from spotctl.inspect.jobs_view import COUNT_STATES

    async def count(target: str) -> dict[str, int]:
        async def go(q: Queue) -> dict[str, int]:
            return {k: int(v) for k, v in (await q.getJobCounts(*COUNT_STATES)).items()}
        return await _with_queue(target, queue, go)

    counts = run(url, count)
    n = sum(counts.values()) if obliterate else counts["waiting"] + counts["delayed"] + counts["prioritized"]
    what = "obliterate (every job, any state)" if obliterate else "drain the waiting, prioritized and delayed jobs of"
    confirm(f"{what} BullMQ queue {queue!r}: {n} job(s)", yes)

    async def purge(target: str) -> None:
        async def go(q: Queue) -> None:
            if obliterate:
                await q.obliterate(force=True)
            else:
                await q.drain(delayed=True)
        await _with_queue(target, queue, go)

    run(url, purge)
    emit({"queue": queue, "purged": n, "obliterated": obliterate}, output, ("queue", "purged", "obliterated"),
         [(queue, n, obliterate)])
