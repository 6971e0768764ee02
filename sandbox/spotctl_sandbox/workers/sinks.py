"""Local stand-ins for the mail provider and the push service: they keep what they receive.

Each received item is one file (`mail/*.eml`, `push/*.json`) named so that names sort by arrival;
listing reads the folder back, newest first, so tests and `spotctl` can assert on what arrived
even across a restart of this process.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.smtp import SMTP, Envelope, Session

from spotctl_sandbox.workers import metrics


def _stamp() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _newest(folder: Path, pattern: str, limit: int) -> list[Path]:
    return sorted(folder.glob(pattern), reverse=True)[:limit] if folder.is_dir() else []


class MailSink:
    """An aiosmtpd handler: accepts every message and stores it as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        header = f"X-Sink-Mail-From: {envelope.mail_from}\r\nX-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        _write_atomic(self.folder / f"{_stamp()}.eml", header.encode() + content)
        metrics.SINK.labels("email").inc()
        return "250 Message accepted for delivery"

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        return [self._describe(path) for path in _newest(self.folder, "*.eml", limit)]

    @staticmethod
    def _describe(path: Path) -> dict[str, Any]:
        # policy.default always yields EmailMessage; the stub types it as the legacy Message.
        msg = cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
        body = msg.get_body(preferencelist=("plain", "html"))
        attachments = [part.get_filename() for part in msg.iter_attachments()]
        return {
            "id": path.stem,
            "received_at": int(path.stem.split("-")[0]) / 1e9,
            "mail_from": msg.get("X-Sink-Mail-From", ""),
            "rcpt_to": [a.strip() for a in msg.get("X-Sink-Rcpt-To", "").split(",") if a.strip()],
            "from": msg.get("From", ""),
            "to": msg.get("To", ""),
            "subject": msg.get("Subject", ""),
            "body": body.get_content() if body is not None else "",
            "attachments": attachments,
        }


class PushSink:
    """What the push webhook received: one JSON file per POST.

    Like a real push provider it can be unavailable: `fail_next(user, n)` makes the next n pushes to
    that user answer 503, which is how retries with backoff are shown (and tested) end to end.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._faults: dict[str, int] = {}

    def fail_next(self, user_id: str, times: int) -> None:
        if times <= 0:
            self._faults.pop(user_id, None)
        else:
            self._faults[user_id] = times

    def take_fault(self, payload: Any) -> bool:
        """True when this push must be refused (and one planned failure is used up)."""
        user = str(payload.get("user_id")) if isinstance(payload, dict) else ""
        left = self._faults.get(user, 0)
        if left <= 0:
            return False
        self.fail_next(user, left - 1)
        return True

    def store(self, payload: Any) -> str:
        stamp = _stamp()
        record = {"id": stamp, "received_at": time.time(), "payload": payload}
        _write_atomic(self.folder / f"{stamp}.json", json.dumps(record).encode())
        metrics.SINK.labels("push").inc()
        return stamp

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        return [json.loads(path.read_text()) for path in _newest(self.folder, "*.json", limit)]
