"""The daily report job: read one day of Kafka events, aggregate, write HTML, queue the mail.

The reader assigns every partition itself (no consumer group, no commits: the report must not move
the analytics group's offsets), seeks to the day's first offset by timestamp and reads up to the
end offsets it saw at the start, so a busy topic cannot keep the job running forever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import bullmq
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import UnsupportedVersionError

from spotctl_sandbox import contract as names
from spotctl_sandbox.workers import report_page
from spotctl_sandbox.workers.bull import Processor
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.dlq import MalformedMessage
from spotctl_sandbox.workers.messages import json_object
from spotctl_sandbox.workers.report import TOPICS, Event, aggregate, day_bounds

log = logging.getLogger(__name__)


def report_day(data: Any, now: dt.datetime | None = None) -> dt.date:
    """The job's `day` (YYYY-MM-DD), or yesterday (UTC) for the scheduled run that carries none."""
    raw = data.get("day") if isinstance(data, dict) else None
    if raw in (None, ""):
        return (now or dt.datetime.now(dt.UTC)).date() - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise MalformedMessage(f"'day' must be YYYY-MM-DD, got {raw!r}") from None


async def _start_offsets(consumer: AIOKafkaConsumer, parts: list[TopicPartition], start_ms: int,
                         end: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """First offset at or after `start_ms` per partition; the end when there is none."""
    try:
        found = await consumer.offsets_for_times({tp: start_ms for tp in parts})
    except UnsupportedVersionError:
        return dict.fromkeys(parts, 0)
    # A negative timestamp in the answer means "no record that late" on some brokers (tansu).
    return {tp: (hit.offset if hit is not None and hit.timestamp >= 0 else end[tp]) for tp, hit in found.items()}


async def read_day(bootstrap: str, day: dt.date, timeout_s: float = 60.0) -> list[Event]:
    """Every event of the report's topics written from the start of `day` until now."""
    start, _ = day_bounds(day)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                client_id="spotctl-daily-report", request_timeout_ms=15000)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for topic in TOPICS
                 for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        for tp, offset in (await _start_offsets(consumer, parts, int(start * 1000), end)).items():
            consumer.seek(tp, offset)
        events: list[Event] = []
        remaining = {tp for tp in parts if await consumer.position(tp) < end[tp]}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"reading {day} from Kafka took over {timeout_s:g} s")
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < end[tp]:
                        try:
                            events.append(Event(tp.topic, json_object(record.value or b"")))
                        except MalformedMessage:
                            events.append(Event(tp.topic, {}))  # counted as skipped
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
        return events
    finally:
        await consumer.stop()


async def _catalogue_facts(deps: Deps, day: dt.date, song_ids: list[str]) -> tuple[dict[str, str], int]:
    """Titles of the top songs and how many users existed before the day."""
    start, _ = day_bounds(day)
    ids = [int(s) for s in song_ids if s.isdigit()]
    async with deps.pg.connection() as conn:
        rows = await (await conn.execute("SELECT id, title || ' — ' || artist FROM songs WHERE id = ANY(%s)",
                                         (ids,))).fetchall()
        before = await (await conn.execute("SELECT count(*) FROM users WHERE created_at < to_timestamp(%s)",
                                           (start,))).fetchone()
    return {str(i): str(t) for i, t in rows}, int(before[0]) if before else 0


def processor(deps: Deps) -> Processor:
    async def daily_report(job: bullmq.Job) -> dict[str, Any]:
        day = report_day(job.data)
        events = await read_day(deps.config.settings.kafka_bootstrap_servers, day)
        await job.updateProgress(40)
        report = aggregate(day, events)
        titles, users_before = await _catalogue_facts(deps, day, [s for s, _ in report.top_songs])
        await job.updateProgress(60)
        html = report_page.render(report, titles=titles, events_read=len(events), users_before=users_before,
                                  generated_at=dt.datetime.now(dt.UTC))
        path = report_page.write(deps.config.settings.reports_dir, report, html)
        await job.updateProgress(80)
        summary = (f"Daily report for {day.isoformat()}: {report.plays} plays by {report.listeners} listeners, "
                   f"{report.new_users} new users, {report.playlists_created} playlists, "
                   f"{report.searches} searches.\nThe full report is attached ({path.name}).\n")
        mail = await deps.queue(names.Q_EMAIL).add(names.JOB_EMAIL, {
            "to": deps.config.report_recipient, "subject": f"Daily report {day.isoformat()}",
            "body": summary, "attachment": str(path.resolve()),
        }, {**names.job_options(priority=names.PRIORITY_EMAIL), "jobId": f"daily-report-mail-{day}-{job.id}"})
        await job.updateProgress(100)
        log.info("daily report %s: %d events, %d plays -> %s (mail job %s)", day, len(events), report.plays,
                 path, mail.id)
        return {"day": day.isoformat(), "path": str(path), "events": len(events), "plays": report.plays,
                "listeners": report.listeners, "new_users": report.new_users, "email_job_id": mail.id}

    return daily_report


async def schedule(deps: Deps) -> None:
    """The repeatable job: every day at 02:00 UTC (upsert, so restarts do not stack schedulers)."""
    await deps.queue(names.Q_REPORTS).upsertJobScheduler(
        names.DAILY_REPORT_SCHEDULER, {"pattern": names.DAILY_REPORT_CRON, "tz": "UTC"},
        job_name=names.JOB_DAILY_REPORT, job_data={},
        opts=names.job_options(attempts=3, backoff_ms=30_000, priority=names.PRIORITY_REPORT))


async def trigger(deps: Deps, day: dt.date) -> str:
    """Run the report for `day` now (it still goes through the queue and its retries)."""
    job = await deps.queue(names.Q_REPORTS).add(
        names.JOB_DAILY_REPORT, {"day": day.isoformat()},
        names.job_options(attempts=3, backoff_ms=5_000, priority=names.PRIORITY_REPORT))
    return str(job.id)
