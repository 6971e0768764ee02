"""Deliver one alert message on three independent channels: hub, email, push.

Independent on purpose: the hub needs Redis, email needs only the SMTP server, push only the push
webhook, so an alert about Redis still reaches the mailbox and the phone. Each channel's outcome is
recorded in the ledger; a failed one is tried again when Alertmanager retries (we answer 503).
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import smtplib
from collections import OrderedDict
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from spotctl_sandbox.monitor import metrics
from spotctl_sandbox.monitor.config import MonitorConfig
from spotctl_sandbox.monitor.ledger import Channel, Delivery, Ledger, Outcome
from spotctl_sandbox.monitor.recipients import OpsDirectory
from spotctl_sandbox.monitor.webhook import Message

if TYPE_CHECKING:
    from spotctl_sandbox.common.redisconn import AsyncAnyRedis

log = logging.getLogger(__name__)

HUB_KIND = "alert"
SEND_TIMEOUT_S = 5.0


def build_email(config: MonitorConfig, message: Message) -> EmailMessage:
    # no folding of long subjects: Python folds right after "Subject:" and readers then see a leading space
    mail = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    mail["From"], mail["To"], mail["Subject"] = config.alert_email_from, config.alert_email_to, message.title
    mail["X-Spotctl-Alert-Key"] = message.key
    mail.set_content(f"{message.body}\n\n-- \nspotctl monitor, alert key {message.key}\n")
    return mail


def _smtp_send(url: str, mail: EmailMessage) -> None:
    parts = urlsplit(url)
    with smtplib.SMTP(parts.hostname or "127.0.0.1", parts.port or 25, timeout=SEND_TIMEOUT_S) as smtp:
        smtp.send_message(mail)


class Dispatcher:
    def __init__(self, config: MonitorConfig, redis: AsyncAnyRedis, http: httpx.AsyncClient, ops: OpsDirectory,
                 ledger: Ledger) -> None:
        self.config = config
        self.redis = redis
        self.http = http
        self.ops = ops
        self.ledger = ledger
        self._notified: OrderedDict[str, set[str]] = OrderedDict()  # message key -> users reached on the hub

    async def deliver(self, message: Message) -> list[Delivery]:
        """Send on every channel this message has not reached yet; returns this attempt's outcomes."""
        pending = self.ledger.pending(message.key)
        senders = {Channel.HUB: self._hub, Channel.EMAIL: self._email, Channel.PUSH: self._push}
        results = await asyncio.gather(*(self._attempt(channel, senders[channel], message) for channel in pending))
        for delivery in results:
            self.ledger.record(delivery)
            metrics.DELIVERIES.labels(delivery.channel.value, delivery.outcome.value).inc()
        return list(results)

    async def _attempt(self, channel: Channel, send: Any, message: Message) -> Delivery:
        try:
            outcome, detail = await asyncio.wait_for(send(message), SEND_TIMEOUT_S * 2)
        except Exception as exc:  # any failure is retried on Alertmanager's next attempt
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("monitor: %s delivery of %s failed: %s", channel, message.key, text)
            outcome, detail = Outcome.FAILED, text
        return Delivery(message.key, channel, outcome, detail, message.title, message.status)

    async def _email(self, message: Message) -> tuple[Outcome, str]:
        mail = build_email(self.config, message)
        await asyncio.to_thread(_smtp_send, self.config.settings.smtp_url, mail)
        return Outcome.SENT, f"to {self.config.alert_email_to}"

    async def _push(self, message: Message) -> tuple[Outcome, str]:
        payload = {"user_id": "ops", "title": message.title, "body": message.body, "kind": HUB_KIND,
                   "priority": message.priority, "data": message.data, "alert_key": message.key}
        resp = await self.http.post(self.config.settings.push_webhook_url, json=payload, timeout=SEND_TIMEOUT_S)
        if resp.status_code >= 400:
            raise RuntimeError(f"push webhook answered {resp.status_code}")
        return Outcome.SENT, f"push id {resp.json().get('id', '?')}"

    async def _hub(self, message: Message) -> tuple[Outcome, str]:
        from spotctl_sandbox.realtime.publish import publish_notification

        users = await self.ops.users()
        if not users:
            return Outcome.SKIPPED, "no ops/admin users (set OPS_USERS, or give a user the ops role)"
        reached = self._notified.setdefault(message.key, set())
        while len(self._notified) > self.ledger.capacity:
            self._notified.popitem(last=False)
        for user in users:
            if user not in reached:  # a retry after a partial failure skips those already notified
                await publish_notification(self.redis, user, title=message.title, body=message.body,
                                           priority=message.priority, kind=HUB_KIND, data=message.data)
                reached.add(user)
        return Outcome.SENT, f"{len(users)} ops user(s): {', '.join(users)}"
