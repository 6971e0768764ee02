"""Flow 6: the daily report reads a day of Kafka events, writes the HTML file and mails it."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from bullmq import Job, Queue

from spotctl_sandbox.workers.report import day_bounds
from tests.workers.conftest import Catalogue, eventually

pytestmark = pytest.mark.stack


async def produce(bootstrap: str, events: list[tuple[str, dict[str, object]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, value in events:
            await producer.send_and_wait(topic, json.dumps(value).encode(),
                                         timestamp_ms=int(float(str(value["ts"])) * 1000))
    finally:
        await producer.stop()


async def test_report_on_demand_lands_in_reports_dir_and_mailbox(
        env: dict[str, str], workers: httpx.AsyncClient, catalogue: Catalogue) -> None:
    # A day of its own (one per second of wall time), so earlier runs on the same broker do not count.
    day = dt.date(1995, 1, 1) + dt.timedelta(days=int(time.time()) % 9000)
    start, end = day_bounds(day)
    artist = await catalogue.artist("Report")
    hit = await catalogue.song(artist, "Hit of the day")
    await produce(env["KAFKA_BOOTSTRAP_SERVERS"], [
        ("song_played", {"user_id": "r1", "song_id": hit, "ts": start + 60}),
        ("song_played", {"user_id": "r2", "song_id": hit, "ts": start + 3600 * 20}),
        ("song_played", {"user_id": "r2", "song_id": 424242, "ts": start + 3600 * 20 + 5}),
        ("song_played", {"user_id": "r3", "song_id": hit, "ts": end + 1}),  # the next day
        ("playlist_created", {"user_id": "r1", "playlist_id": "p1", "name": "x", "song_count": 0,
                              "ts": start + 100}),
        ("search_performed", {"user_id": None, "query": "queen", "results": 3, "cached": False,
                              "ts": start + 200}),
        ("search_performed", {"user_id": "r2", "query": "Queen", "results": 3, "cached": True,
                              "ts": start + 300}),
        ("user_registered", {"user_id": "r9", "email": "r9@test.local", "ts": start + 400}),
    ])

    resp = await workers.post("/jobs/daily-report", json={"day": day.isoformat()})
    assert resp.status_code == 202
    reports = Queue("reports", {"connection": env["REDIS_URL"]})

    async def done() -> Job | None:
        job = await Job.fromId(reports, resp.json()["job_id"])
        return job if job is not None and job.finishedOn else None

    job = await eventually(done, 60, "the daily report job")
    assert await reports.getJobState(job.id) == "completed", job.failedReason
    assert job.progress == 100
    result = job.returnvalue
    assert (result["plays"], result["listeners"], result["new_users"]) == (3, 2, 1)

    path = Path(env["REPORTS_DIR"]) / f"daily-{day.isoformat()}.html"
    assert result["path"] == str(path) and path.is_file()
    html = path.read_text()
    assert '<td id="plays">3</td>' in html and '<td id="listeners">2</td>' in html
    assert '<td id="playlists">1</td>' in html and '<td id="searches">2</td>' in html
    assert "Hit of the day" in html and "<td>queen</td><td>2</td>" in html

    async def mailed() -> list[dict[str, object]]:
        messages = (await workers.get("/sinks/email")).json()["messages"]
        return [m for m in messages if m["subject"] == f"Daily report {day.isoformat()}"]

    mail = (await eventually(mailed, 20, "the report e-mail"))[0]
    assert mail["attachments"] == [path.name] and "3 plays by 2 listeners" in str(mail["body"])
    emails = Queue("email", {"connection": env["REDIS_URL"]})

    async def mail_job_done() -> bool:  # the sink has the mail a moment before BullMQ records completion
        return bool(await emails.getJobState(result["email_job_id"]) == "completed")

    await eventually(mail_job_done, 10, "the e-mail job to complete")
    await emails.close()

    scheduler = await reports.getJobScheduler("daily-report")  # the daily repeatable job is registered
    assert scheduler is not None and scheduler["pattern"] == "0 0 2 * * *"
    await reports.close()
    path.unlink()


async def test_bad_day_is_refused(workers: httpx.AsyncClient) -> None:
    resp = await workers.post("/jobs/daily-report", json={"day": "yesterday-ish"})
    assert resp.status_code == 400 and "YYYY-MM-DD" in resp.json()["error"]
