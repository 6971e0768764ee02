"""`postgres:` a query returns at least `min_rows` rows (1 by default), the first holding `expect`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict, plain, short
from spotctl.guide.template import matches

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores


class Postgres(Kind):
    name = "postgres"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["sql"],
        "properties": {
            "sql": {"type": "string", "minLength": 1},
            "params": {"type": "array"},
            "min_rows": {"type": "integer", "minimum": 0},
            "expect": {"type": "object"},
        },
    }

    def describe(self, spec: Spec) -> str:
        """The whole statement with its parameters in place (as values once rendered, as templates in a
        plan), so the learner can paste it into `spotctl pg query`."""
        sql = with_params(" ".join(str(spec["sql"]).split()), list(spec.get("params", ())))
        return f"postgres: {sql} returns ≥ {spec.get('min_rows', 1)} row(s)"

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> list[dict[str, Any]]:
        sql, params = str(spec["sql"]), tuple(spec.get("params", ()))
        rows = await asyncio.to_thread(lambda: stores.pg().rows(sql, params))
        return [{k: plain(v) for k, v in row.items()} for row in rows]

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        need = int(spec.get("min_rows", 1))
        observed = {"rows": seen, "row": seen[0] if seen else None}
        if len(seen) < need:
            return Verdict(False, f"{len(seen)} row(s), expected ≥ {need}", observed)
        expect = spec.get("expect") or {}
        if expect and not (seen and matches(expect, seen[0])):
            return Verdict(False, f"first row {short(dict(seen[0]) if seen else None)} lacks {short(expect)}",
                           observed)
        return Verdict(True, f"{len(seen)} row(s)", observed)


def with_params(sql: str, params: list[Any]) -> str:
    """`sql` with each `%s` replaced by its parameter as an SQL literal (`%%` is a literal `%`); a
    template (`{{ user_id }}`) is shown as it is."""
    import re

    values = iter(params)
    missing = object()

    def literal(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        value = next(values, missing)
        if value is missing:
            return match.group(0)
        if value is None:
            return "NULL"
        if isinstance(value, bool | int | float) or (isinstance(value, str) and value.startswith("{{")):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"%%|%s", literal, sql)


KIND = Postgres()
