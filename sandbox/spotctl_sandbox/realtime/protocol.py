"""The hub's wire format, shared by the hub, its client, the workers that publish and the load tests.

Every frame is a JSON object `{"type", "content", "timestamp"}` (the seed's API reference); the server
adds `id` and `server_time` (epoch milliseconds). A client may tag a request with `id`; the reply and
any error carry it back as `reply_to`. docs/hub-protocol.md is the prose of this module.

Untrusted frames are decoded by `loads`, which refuses what JSON parsers in other languages break on
(NaN, Infinity, integers beyond 64 bits, `\\u0000`, unpaired surrogates, deep nesting) with an error
naming the field, so nothing a client sends can reach another client or a database in a shape that
fails there. Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from enum import IntEnum
from random import getrandbits
from typing import Any

import orjson

from .clock import iso as iso  # re-exported: the frames' clock is protocol.now_ms / protocol.iso to their users
from .clock import now_ms as now_ms

MAX_DEPTH = 32  # objects/arrays inside each other; the envelope itself is 2 of them
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_ESCAPES = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # \u0000 and surrogate halves
_ESCAPES_B = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


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
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL = "internal"


class CloseCode(IntEnum):
    """WebSocket close codes the hub sends, and whether a client should come back."""

    POLICY = 1008  # bad token, replaced by a newer connection: do not retry as is
    TOO_BIG = 1009  # frame over the size limit
    INTERNAL = 1011  # keepalive timeout (or a server bug): retry with backoff
    RESTART = 1012  # the server is shutting down: reconnect (elsewhere) with last_id
    TRY_AGAIN = 1013  # overloaded, slow consumer or rate-limit abuse: retry after a delay

    @property
    def retry(self) -> bool:
        return self is not CloseCode.POLICY


class ProtocolError(Exception):
    """A recoverable problem with one frame: answered with an error frame, the connection stays."""

    def __init__(self, code: str, message: str, reply_to: str | None = None,
                 extra: dict[str, Any] | None = None, *, audited: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.reply_to, self.extra = code, message, reply_to, extra or {}
        self.audited = audited  # the refusal is in the audit log already


class _Refused(ValueError):
    """Raised inside the JSON decoder for a value the protocol refuses (found again by `_locate`)."""


class _Marker:
    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _refuse_constant(name: str) -> Any:
    raise _Refused(name)


def _checked_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(text)
    return value


def _checked_int(text: str) -> int:
    if len(text) > 20:
        raise _Refused(text)
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise _Refused(text)
    return value


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_checked_float, parse_int=_checked_int)


def _mark_constant(name: str) -> _Marker:
    return _Marker(f"{name} is not allowed (JSON has no NaN or Infinity)")


def _mark_float(text: str) -> float | _Marker:
    value = float(text)
    return value if math.isfinite(value) else _Marker(f"{text[:40]} is out of range for a finite number")


def _mark_int(text: str) -> int | _Marker:
    if len(text) <= 20 and INT_MIN <= int(text) <= INT_MAX:
        return int(text)
    return _Marker(f"{text[:40]}{'...' if len(text) > 40 else ''} does not fit in a 64-bit integer")


_MARKING = json.JSONDecoder(parse_constant=_mark_constant, parse_float=_mark_float, parse_int=_mark_int)


def loads(raw: str | bytes) -> Any:
    """Decode one untrusted frame; ProtocolError(bad_json) naming the field and the rule otherwise.

    Good frames cost what json.loads costs plus two scans of the text in C; the path of a refused
    value is found by decoding again, which only refused frames pay for.
    """
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        try:
            value = _STRICT.decode(text)
        except _Refused:  # a refused number before the end: find where, if the rest is JSON at all
            _locate(_MARKING.decode(text))
            raise AssertionError("unreachable: a refused value was not found again") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, f"frame is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if text.count("{") + text.count("[") > MAX_DEPTH or _ESCAPES.search(text) or not _encodable(text):
        _locate(value)
    return value


def _encodable(text: str) -> bool:
    """False for a str holding a raw unpaired surrogate (only in-process callers can hand one over:
    a WebSocket text frame is valid UTF-8)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _locate(value: Any) -> None:
    """Raise for the first refused value in `value` (depth, markers, NUL, unpaired surrogates)."""
    for path, depth, item in _walk(value):
        why = None
        if depth > MAX_DEPTH:
            why = f"nested deeper than {MAX_DEPTH} levels"
        elif isinstance(item, _Marker):
            why = item.why
        elif isinstance(item, str):
            why = _bad_text(item)
        if why is not None:
            reply_to = _request_id(value)
            raise ProtocolError(ErrorCode.BAD_JSON, f"{where(path)}: {why}", reply_to)


def check_sendable(value: Any, name: str) -> None:
    """ValueError naming the field if `value` holds what `loads` refuses (a publisher's own check)."""
    for path, depth, item in _walk(value):
        why = None
        if depth > MAX_DEPTH:
            why = f"nested deeper than {MAX_DEPTH} levels"
        elif isinstance(item, float) and not math.isfinite(item):
            why = f"{item} is not allowed (JSON has no NaN or Infinity)"
        elif isinstance(item, int) and not isinstance(item, bool) and not INT_MIN <= item <= INT_MAX:
            why = "does not fit in a 64-bit integer"
        elif isinstance(item, str):
            why = _bad_text(item)
        if why is not None:
            raise ValueError(f"{where((name, *path))}: {why}")


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "\\u0000 is not allowed in text"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "an unpaired surrogate (\\ud800-\\udfff) is not text"
    return None


def _walk(value: Any) -> Iterator[tuple[tuple[str | int, ...], int, Any]]:
    """Every value (and object key) with its path and nesting depth, without recursion."""
    stack: list[tuple[tuple[str | int, ...], int, Any]] = [((), 0, value)]
    while stack:
        path, depth, item = stack.pop()
        if isinstance(item, dict):
            depth += 1
            yield path, depth, item
            for key, child in reversed(list(item.items())):
                yield (*path, key), depth, key
                stack.append(((*path, key), depth, child))
        elif isinstance(item, list | tuple):
            depth += 1
            yield path, depth, item
            stack.extend(((*path, i), depth, child) for i, child in reversed(list(enumerate(item))))
        else:
            yield path, depth, item


def where(path: tuple[str | int, ...]) -> str:
    """`("content", "data", "x")` -> `content['data']['x']` (the style of invalid_content errors)."""
    if not path:
        return "frame"
    head, *rest = path
    return str(head) + "".join(f"[{p!r}]" for p in rest)


def _request_id(value: Any) -> str | None:
    rid = value.get("id") if isinstance(value, dict) else None
    return str(rid)[:64] if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def request(kind: str, content: dict[str, Any], request_id: str | None = None) -> str:
    """A client-to-server frame; the reply and any error carry `request_id` back as `reply_to`."""
    out: dict[str, Any] = {"type": kind, "content": content}
    if request_id is not None:
        out["id"] = request_id
    return dumps(out)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# orjson hands these to json below: json's answer (its text, or its TypeError) stays the answer
_ORJSON = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_SHORT_EXPONENT = re.compile(rb"[0-9]e-[0-9](?![0-9])")  # orjson 1e-7, json 1e-07


def dumps(value: Any) -> str:
    """Compact JSON that never writes NaN or Infinity (ValueError instead).

    The text is json's (`separators=(",", ":")`, ASCII only); orjson writes it ~8x faster where it
    writes the same bytes, so json (one encoder kept, not one built per call) only does what orjson
    cannot be trusted with: output with `null` in it (orjson writes NaN and Infinity as null), text
    beyond printable ASCII (orjson does not escape it), small floats (orjson writes 0.00001 and 1e-7),
    and what orjson refuses (integers beyond 64 bits, keys that are not text, subclasses, dataclasses
    and datetimes). Substring tests (C) before any regex: a regex over every frame cost more than json."""
    try:
        out = orjson.dumps(value, option=_ORJSON)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value)
    if (b"null" in out or not out.isascii() or b"\x7f" in out  # json escapes DEL too
            or b"0.0000" in out or (b"e-" in out and _SHORT_EXPONENT.search(out))):  # json: 1e-05
        return _ENCODER.encode(value)
    return out.decode()


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
    """Ids of frames that are not kept for resume start with 'e:' (stream ids look like '123-0').

    64 random bits from `random` (reseeded from os.urandom in every forked worker), not a `getrandom`
    syscall per reply frame (issue 18): the ids need to be distinct, not secret."""
    return f"e:{getrandbits(64):016x}"


def frame(kind: str, content: Any, *, reply_to: str | None = None, frame_id: str | None = None) -> str:
    """A direct server-to-this-client frame (replies, errors, system notices)."""
    out = {"id": frame_id or ephemeral_id(), **body(kind, content)}
    if reply_to is not None:
        out["reply_to"] = reply_to
    return dumps(out)


def error_frame(code: str, message: str, reply_to: str | None = None, **extra: Any) -> str:
    return frame("error", {"code": code, "message": message, **extra}, reply_to=reply_to)


def bus_payload(frame_id: str, body_json: str) -> str:
    """What travels between workers on a topic's pub/sub channel (realtime/bus.py)."""
    return f"{frame_id} {body_json}"


def split_payload(payload: bytes | str) -> tuple[str, str]:
    """A bus payload -> (frame id, body json)."""
    frame_id, _, body_json = (payload.decode() if isinstance(payload, bytes) else payload).partition(" ")
    return frame_id, body_json


def with_id(frame_id: str, body_json: str) -> str:
    """Prefix a published body (a JSON object text) with its id without re-encoding it.

    The id is quoted by orjson when it is printable ASCII (stream ids, ephemeral ids: json's text
    then), by json otherwise (it escapes what orjson writes raw)."""
    quoted = orjson.dumps(frame_id).decode() if frame_id.isascii() and frame_id.isprintable() else json.dumps(frame_id)
    return '{"id":' + quoted + "," + body_json[1:]
