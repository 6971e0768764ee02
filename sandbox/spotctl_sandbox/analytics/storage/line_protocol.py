"""InfluxDB line protocol (pure): `measurement,tag=v field=1.5 1700000000` with the spec's escaping.

Numbers are always written as floats, so a series first written by the API as 3 and later as 2.5
never hits InfluxDB's "field type conflict"; booleans stay booleans, text is quoted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # measurement, field and tag names we accept from users


@dataclass(frozen=True)
class Point:
    measurement: str
    fields: Mapping[str, float | int | bool | str]
    tags: Mapping[str, str] = field(default_factory=dict)
    timestamp: float | None = None  # epoch seconds; None lets InfluxDB stamp it


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _field_value(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValueError("field values must be finite numbers")
        return repr(number)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode(point: Point) -> str:
    """One line, nanosecond-free: timestamps go out in milliseconds (write with precision=ms)."""
    if not point.fields:
        raise ValueError(f"point {point.measurement!r} has no fields")
    tags = "".join(f",{_escape_key(k)}={_escape_key(str(v))}" for k, v in sorted(point.tags.items())
                   if str(v) != "")
    fields = ",".join(f"{_escape_key(k)}={_field_value(v)}" for k, v in point.fields.items())
    line = f"{_escape_measurement(point.measurement)}{tags} {fields}"
    if point.timestamp is not None:
        line += f" {round(point.timestamp * 1000)}"
    return line
