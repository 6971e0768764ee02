"""BullMQ `push` and `email` jobs: deliver to the push webhook and the SMTP server.

Jobs come from the release flow, from the hub's `publish_notification` (which names a user, not an
address: the address is looked up here) and from the daily report (which attaches the report).
A non-2xx answer or a refused connection fails the attempt, and BullMQ retries with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bullmq
import httpx
from bullmq import UnrecoverableError

from spotctl_sandbox.workers.bull import Processor
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.messages import EmailJob, PushJob

log = logging.getLogger(__name__)
SENDER = "Spotify-like sandbox <no-reply@spotify.local>"


def smtp_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError(f"SMTP_URL must look like smtp://host:port, got {url!r}")
    return parts.hostname, parts.port or 25


def build_email(job: EmailJob) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, job.to, job.subject
    msg.set_content(job.body or job.subject)
    if job.html:
        msg.add_alternative(job.html, subtype="html")
    if job.attachment:
        path = Path(job.attachment)
        if not path.is_file():
            raise UnrecoverableError(f"attachment {path} does not exist")
        maintype, _, subtype = (mimetypes.guess_type(path.name)[0] or "application/octet-stream").partition("/")
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg


def _send_blocking(host: str, port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.send_message(msg)


async def _address_of(deps: Deps, user_id: str) -> str:
    if not user_id.isdigit():
        raise UnrecoverableError(f"user id {user_id!r} is not numeric; no address to mail")
    async with deps.pg.connection() as conn:
        row = await (await conn.execute("SELECT email FROM users WHERE id = %s", (int(user_id),))).fetchone()
    if row is None:
        raise UnrecoverableError(f"user {user_id} does not exist")
    return str(row[0])


async def _mark_hub_channel(deps: Deps, data: dict[str, Any], channel: str) -> None:
    """Record delivery on the hub's notification (jobs the hub enqueued carry its id)."""
    nid, ns = data.get("notification_id"), data.get("namespace")
    if not (isinstance(nid, str) and isinstance(ns, str)):
        return
    from spotctl_sandbox.realtime import keys

    await deps.redis.hset(keys.notification(ns, nid), f"channel:{channel}", "delivered")


def push_processor(deps: Deps, client: httpx.AsyncClient) -> Processor:
    async def push(job: bullmq.Job) -> dict[str, Any]:
        note = PushJob.parse(job.data)
        payload = {"user_id": note.user_id, "title": note.title, "body": note.body, "kind": note.kind,
                   "data": note.data, "job_id": job.id, "notification_id": job.data.get("notification_id")}
        resp = await client.post(deps.config.settings.push_webhook_url, json=payload, timeout=5)
        if resp.status_code >= 400:
            raise RuntimeError(f"push webhook answered {resp.status_code}")
        await _mark_hub_channel(deps, job.data, str(job.data.get("channel", "push")))
        return {"delivered_to": note.user_id, "status": resp.status_code}

    return push


def email_processor(deps: Deps) -> Processor:
    async def email(job: bullmq.Job) -> dict[str, Any]:
        data = dict(job.data)
        if "to" not in data and "user_id" in data:
            data["to"] = await _address_of(deps, str(data["user_id"]))
            data.setdefault("subject", data.get("title", "Notification"))
        mail = EmailJob.parse(data)
        host, port = smtp_address(deps.config.settings.smtp_url)
        await asyncio.to_thread(_send_blocking, host, port, build_email(mail))
        await job.updateProgress(100)
        await _mark_hub_channel(deps, job.data, "email")
        return {"sent_to": mail.to, "subject": mail.subject}

    return email
