"""Result sets as scripts want them: a list of objects for JSON, RFC 4180 text for CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from spotctl.inspect.values import jsonable


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with a header; NULL is an empty field (as psql --csv writes it), structures as JSON."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, dict | list):
        return json.dumps(jsonable(value))
    return jsonable(value)


_CHANGES = ("INSERT", "UPDATE", "DELETE", "MERGE", "COPY")


def affected_rows(status: str | None) -> int:
    """Rows a statement changed, from its command tag (`DELETE 3`, `INSERT 0 5`); 0 for anything else
    (`SELECT 10` reads, `CREATE TABLE` changes no row)."""
    words = (status or "").split()
    if len(words) >= 2 and words[0] in _CHANGES and words[-1].isdigit():
        return int(words[-1])
    return 0
