"""Small, shared conversions: sizes, durations, JSON arguments and values that scripts can parse."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping
from typing import Any

from spotctl.errors import UsageError


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def human_ttl(ttl: int) -> str:
    """Redis TTL semantics: -1 = persistent, -2 = gone."""
    if ttl == -1:
        return "no expiry"
    if ttl == -2:
        return "missing"
    return human_duration(ttl)


def ratio(hits: int, misses: int) -> float | None:
    total = hits + misses
    return None if total == 0 else hits / total


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def parse_json_arg(text: str, what: str) -> Any:
    """User-supplied JSON, or a usage error that quotes the parser's complaint."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}",
                         hint="quote it for your shell, e.g. '{\"key\": \"value\"}'") from None


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    value = parse_json_arg(text, what)
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def decode(raw: bytes | str | None) -> str | None:
    """Bytes as text; bytes that are not UTF-8 keep their escapes instead of failing."""
    if raw is None or isinstance(raw, str):
        return raw
    return raw.decode("utf-8", errors="backslashreplace")


def maybe_json(text: str | None) -> Any:
    """Parsed JSON when the payload is JSON, the text otherwise (payloads here are mostly JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def jsonable(value: Any) -> Any:
    """A value `json.dumps` writes the same way every time: ISO dates, exact decimals, base64 bytes."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def cell(value: Any, width: int = 80) -> str:
    """One table cell: JSON for structures, cut to `width` so a table stays readable."""
    text = value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"
