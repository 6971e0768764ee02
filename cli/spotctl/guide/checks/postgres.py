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
        return f"postgres: {' '.join(str(spec['sql']).split())[:90]} returns ≥ {spec.get('min_rows', 1)} row(s)"

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


KIND = Postgres()
