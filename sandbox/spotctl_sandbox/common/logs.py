"""Structured logs and the correlation id that ties one request's lines together across services.

Every sandbox service writes one JSON object per line with (the team's contract) `ts`, `level`,
`service`, `msg` and `correlation_id`, plus `logger` and any `fields` a call passes. The id comes in
as the HTTP header X-Request-ID (the gateway makes one when the client sent none), lives in a
context variable while the request or message is handled, and travels in Kafka, RabbitMQ and BullMQ
payloads (and Kafka/AMQP headers) as `correlation_id`, so `spotctl trace ID` can put one play's path
in time order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

HEADER = "X-Request-ID"
FIELD = "correlation_id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # what we accept from outside (it ends up in logs)
_current: ContextVar[str | None] = ContextVar(FIELD, default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def valid(value: object) -> str | None:
    """`value` if it can be a correlation id (a short token: no spaces, quotes or newlines), else None."""
    return value if isinstance(value, str) and _VALID.fullmatch(value) else None


def current() -> str | None:
    return _current.get()


@contextlib.contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Log lines inside the block carry `correlation_id` (None: none, the previous one comes back after)."""
    token = _current.set(valid(correlation_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def stamp(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with the current correlation id added (a payload that has one keeps it)."""
    data, cid = dict(payload), current()
    if cid and not data.get(FIELD):
        data[FIELD] = cid
    return data


def of(payload: object) -> str | None:
    """The correlation id a received payload carries, if it is a usable one."""
    return valid(payload.get(FIELD)) if isinstance(payload, Mapping) else None


def kafka_headers(payload: object = None) -> list[tuple[str, bytes]]:
    """The record's header: the payload's correlation id, else the current one (none: no header)."""
    cid = of(payload) or current()
    return [(FIELD, cid.encode())] if cid else []


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, service, msg, correlation_id, logger, pid, fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "msg": record.getMessage(),
            FIELD: getattr(record, FIELD, None) or current(),
            "logger": record.name,
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_text:  # first: a filter may have redacted it (common/logredact.py)
            line["exc"] = record.exc_text
        elif record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup(service: str, level: int | str = logging.INFO, quiet: Sequence[str] = ()) -> None:
    """JSON lines on stdout for every logger of this process (and its forks), never a token in them
    (a library's line may quote a URL with ?token=); `quiet` loggers at WARNING."""
    from .logredact import RedactTokens

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
