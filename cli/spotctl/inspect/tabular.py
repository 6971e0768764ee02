"""Result sets as scripts want them: a list of objects for JSON, RFC 4180 text for CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from spotctl.inspect.values import jsonable


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with a header; NULL is an empty field (as psql --csv writes it), structures as JSON."""
    import json

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v if isinstance(v, str | int | float)
                         else json.dumps(jsonable(v)) if isinstance(v, dict | list) else jsonable(v)
                         for v in row])
    return buf.getvalue()
