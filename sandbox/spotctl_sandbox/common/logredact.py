"""A logging filter that blanks anything shaped like a JWT in a record, so no token reaches a log
(an exception text or a library's debug line may quote a header or a URL with `?token=`)."""

from __future__ import annotations

import logging
import re

# header.payload.signature, each base64url; the header always starts with eyJ ('{"')
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
MASK = "<token redacted>"


def redact(text: str) -> str:
    return JWT.sub(MASK, text)


class RedactTokens(logging.Filter):
    """Attach to handlers: rewrites the formatted message (and exception text) of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "eyJ" in message:
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "eyJ" in record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
