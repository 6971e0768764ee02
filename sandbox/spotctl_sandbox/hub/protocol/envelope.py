"""Frames in and out: parse and validate a client frame, build server frames.

Every frame is a JSON object `{"type", "content", "timestamp"}` (the seed's API reference); the server
adds `id` and `server_time` (epoch milliseconds). A client may tag a request with `id`; the reply and
any error carry it back as `reply_to`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

from .schemas import CONTENT_SCHEMAS

_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in CONTENT_SCHEMAS.items()}


@functools.cache
def _check(kind: str) -> Any:
    """The compiled check of one message type, built on first use (all 32 at import cost 70 ms of start-up).

    Valid frames take it (fastjsonschema: ~2 µs against ~35 µs for jsonschema, which was the hottest
    Python frame of a worker during a connect storm); only an invalid one pays for jsonschema, whose
    error names the exact field. The schemas use draft-07 keywords only.
    """
    return fastjsonschema.compile(CONTENT_SCHEMAS[kind])


class ErrorCode:
    BAD_JSON = "bad_json"
    BAD_ENVELOPE = "bad_envelope"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_CONTENT = "invalid_content"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    CONFLICT = "conflict"


class ProtocolError(Exception):
    """A recoverable problem with one frame: answered with an error frame, the connection stays."""

    def __init__(self, code: str, message: str, reply_to: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reply_to = code, message, reply_to


@dataclass(frozen=True)
class Incoming:
    type: str
    content: dict[str, Any]
    request_id: str | None = None


def parse(raw: str | bytes) -> Incoming:
    """Decode and validate one client frame, raising ProtocolError that names the problem."""
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ProtocolError(ErrorCode.BAD_ENVELOPE, "frame must be a JSON object")
    request_id = frame.get("id")
    if request_id is not None and not isinstance(request_id, str | int):
        raise ProtocolError(ErrorCode.BAD_ENVELOPE, "'id' must be a string or an integer")
    request_id = None if request_id is None else str(request_id)[:64]
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_ENVELOPE, "frame needs a string 'type'", request_id)
    if kind not in CONTENT_SCHEMAS:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}", request_id)
    content = frame.get("content", {})
    try:
        _check(kind)(content)
        return Incoming(kind, content, request_id)
    except fastjsonschema.JsonSchemaValueException:
        pass
    errors = _VALIDATORS[kind].iter_errors(content)
    error = next(iter(sorted(errors, key=lambda e: list(e.path))), None)
    if error is not None:
        where = "content" + "".join(f"[{p!r}]" for p in error.absolute_path)
        raise ProtocolError(ErrorCode.INVALID_CONTENT, f"{kind}: {where}: {error.message}", request_id)
    return Incoming(kind, content, request_id)


def now_ms() -> float:
    return round(time.time() * 1000, 3)


def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body(kind: str, content: Any, *, topic: str | None = None, priority: int | None = None,
         server_time: float | None = None, origin: str | None = None) -> dict[str, Any]:
    """The frame without its id: what a publisher stores and sends through Redis.

    `origin` names the sending connection, which does not get its own client event back.
    """
    ms = now_ms() if server_time is None else server_time
    out: dict[str, Any] = {"type": kind, "content": content, "timestamp": iso(ms), "server_time": ms}
    if topic is not None:
        out["topic"] = topic
    if priority is not None:
        out["priority"] = priority
    if origin is not None:
        out["origin"] = origin
    return out


def ephemeral_id() -> str:
    """Ids of frames that are not kept for resume start with 'e:' (stream ids look like '123-0')."""
    return "e:" + uuid.uuid4().hex[:16]


def frame(kind: str, content: Any, *, reply_to: str | None = None, frame_id: str | None = None) -> str:
    """A direct server-to-this-client frame (replies, errors, system notices)."""
    out = {"id": frame_id or ephemeral_id(), **body(kind, content)}
    if reply_to is not None:
        out["reply_to"] = reply_to
    return json.dumps(out, separators=(",", ":"))


def error_frame(code: str, message: str, reply_to: str | None = None) -> str:
    return frame("error", {"code": code, "message": message}, reply_to=reply_to)


def with_id(frame_id: str, body_json: str) -> str:
    """Prefix a published body (a JSON object text) with its id without re-encoding it."""
    return '{"id":' + json.dumps(frame_id) + "," + body_json[1:]
