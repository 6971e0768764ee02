"""The workers process: /health names each worker's state, the sinks list what they received."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.workers.conftest import eventually

pytestmark = pytest.mark.stack

WORKERS = {"schema", "recently-played", "notification-jobs", "email", "reports", "recommendations",
           "delivery", "search-indexer", "cache-invalidation", "analytics"}


async def test_every_worker_reports_running(workers: httpx.AsyncClient) -> None:
    async def all_running() -> dict[str, Any] | None:
        body = (await workers.get("/health")).json()
        return body if body["status"] == "ok" else None

    body = await eventually(all_running, 60, "every worker to run")
    assert set(body["workers"]) == WORKERS
    assert all(w["state"] == "running" for w in body["workers"].values())


async def test_smtp_sink_lists_newest_first(env: dict[str, str], workers: httpx.AsyncClient) -> None:
    smtp = urlsplit(env["SMTP_URL"])
    subjects = [f"sink test {uuid.uuid4().hex[:6]}" for _ in range(2)]
    with smtplib.SMTP(smtp.hostname or "127.0.0.1", smtp.port or 25, timeout=5) as client:
        for subject in subjects:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@test.local", "b@test.local", subject
            msg.set_content("hello")
            client.send_message(msg)

    messages = (await workers.get("/sinks/email", params={"limit": 50})).json()["messages"]
    mine = [m["subject"] for m in messages if m["subject"] in subjects]
    assert mine == subjects[::-1]
    assert (await workers.get("/sinks/email", params={"limit": "0"})).status_code == 400


async def test_push_sink_stores_json_and_refuses_other_bodies(env: dict[str, str],
                                                             workers: httpx.AsyncClient) -> None:
    marker = uuid.uuid4().hex
    async with httpx.AsyncClient() as client:
        ok = await client.post(env["PUSH_WEBHOOK_URL"], json={"user_id": "u", "title": marker})
        bad = await client.post(env["PUSH_WEBHOOK_URL"], content=b"not json")
    assert ok.status_code == 201 and bad.status_code == 400
    pushes = (await workers.get("/sinks/push")).json()["messages"]
    assert any(p["payload"].get("title") == marker for p in pushes)


async def test_metrics_count_jobs_deliveries_and_sinks(workers: httpx.AsyncClient, env: dict[str, str]) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(env["PUSH_WEBHOOK_URL"], json={"user_id": "m", "title": "metrics"})
    text = (await workers.get("/metrics")).text
    assert 'spotctl_worker_up{worker="recently-played"} 1.0' in text
    assert 'spotctl_worker_sink_received_total{sink="push"}' in text
    assert "spotctl_worker_jobs_total" in text and "spotctl_worker_messages_total" in text
