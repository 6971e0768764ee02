"""`spotctl jobs`: BullMQ queues with counts per state, failed jobs and why, retry, clean, enqueue.

Everything goes through the `bullmq` package's Queue API (`spotctl.clients.bullmq`), so what you see
is what the workers see.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from spotctl.commands._complete import BullQueue
from spotctl.inspect.jobs_view import CleanState, ListState
from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json

if TYPE_CHECKING:
    from spotctl.clients.bullmq import JobsClient

T = TypeVar("T")
UrlOpt = Annotated[str | None, typer.Option("--url", help="Redis URL of the queues, redis+cluster://... for a "
                                           "cluster (default: $REDIS_CLUSTER_URL, $REDIS_URL, then the stack).",
                                           show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N jobs.")]

app = typer.Typer(help="Inspect and drive BullMQ queues: counts, failed jobs, retry, clean, enqueue.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs", help="Inspect BullMQ job queues (counts, failures, retry, clean, enqueue).")


def run(url: str | None, work: Callable[[JobsClient], Awaitable[T]]) -> T:
    """`work(client)` against the queues at `--url`, else the workers' Redis (a cluster URL wins)."""
    from spotctl.clients import bullmq
    from spotctl.endpoints import redis_url

    return bullmq.run(redis_url(url), work)


@app.command("queues")
def queues_cmd(url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Every queue (found by its keys, plus the stack's own) with job counts per state."""
    from spotctl.inspect.jobs_view import COUNT_STATES

    rows = run(url, lambda jobs: jobs.overview())
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
    _show_jobs(queue, state.value, run(url, lambda jobs: jobs.jobs(queue, state.value, limit)), output)


@app.command("failed")
def failed_cmd(queue: BullQueue, limit: LimitOpt = 20, url: UrlOpt = None,
               output: OutputOpt = OutputFormat.table) -> None:
    """Failed jobs of QUEUE, newest first, with the reason and attempts made."""
    list_jobs(queue, ListState.failed, limit, url, output)


@app.command("list")
def list_cmd(queue: BullQueue, state: Annotated[ListState, typer.Option("--state", "-s")] = ListState.waiting,
             limit: LimitOpt = 20, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Jobs of QUEUE in one state, newest first."""
    list_jobs(queue, state, limit, url, output)


@app.command("retry")
def retry_cmd(queue: BullQueue,
              job_ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids; omit with --all.")] = None,
              all_failed: Annotated[bool, typer.Option("--all", help="Retry every failed job.")] = False,
              url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Move failed jobs back to waiting, so the workers run them again."""
    from spotctl.errors import UsageError

    if bool(job_ids) == all_failed:
        raise UsageError("name job ids, or pass --all (not both)")
    ids = run(url, lambda jobs: jobs.retry(queue, None if all_failed else job_ids))
    emit({"queue": queue, "retried": ids}, output, ("queue", "retried"), [(queue, len(ids))])


@app.command("clean")
def clean_cmd(
    queue: BullQueue,
    state: Annotated[CleanState, typer.Option("--state", "-s", help="Which jobs to remove.")] = CleanState.completed,
    grace: Annotated[float, typer.Option("--grace", min=0, help="Keep jobs younger than S seconds.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Remove at most N (0 = all).")] = 0,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Remove jobs in one state (shows the count and asks first; --yes to skip)."""
    from spotctl.inspect import questions

    n = run(url, lambda jobs: jobs.counts(queue, [state.value])).get(state.value, 0)
    confirm(questions.clean_jobs(queue, state.value, n, bool(grace or limit)), yes)
    removed = run(url, lambda jobs: jobs.clean(queue, state, grace, limit))
    emit({"queue": queue, "state": state.value, "removed": removed}, output, ("queue", "state", "removed"),
         [(queue, state.value, removed)])


@app.command("enqueue")
def enqueue_cmd(
    queue: BullQueue, name: Annotated[str, typer.Argument(help="Job name, e.g. update_recently_played.")],
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
    new_id, new_queue = run(url, lambda jobs: jobs.enqueue(queue, name, payload, opts))
    if new_queue:
        from spotctl.inspect.jobs_view import CONTRACT_QUEUES
        from spotctl.output import warn

        warn(f"{queue!r} is a new queue: no worker of the stack consumes it (the stack's queues: "
             f"{', '.join(CONTRACT_QUEUES)})")
    emit({"queue": queue, "name": name, "id": new_id}, output, ("queue", "name", "id"), [(queue, name, new_id)])


def purge_jobs(queue: str, obliterate: bool, yes: bool, url: str | None, output: OutputFormat) -> None:
    """Drop waiting/delayed jobs (or the whole queue with `obliterate`); used by `spotctl purge jobs`."""
    from spotctl.inspect import questions

    counts = run(url, lambda jobs: jobs.counts(queue))
    n = sum(counts.values()) if obliterate else counts["waiting"] + counts["delayed"] + counts["prioritized"]
    confirm(questions.purge_jobs(queue, n, obliterate), yes)
    run(url, lambda jobs: jobs.purge(queue, obliterate))
    emit({"queue": queue, "purged": n, "obliterated": obliterate}, output, ("queue", "purged", "obliterated"),
         [(queue, n, obliterate)])
