"""`push:` the workers' push webhook received a push (since the action) for a user, titled, saying."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict
from spotctl.guide.template import same

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores


class Push(Kind):
    name = "push"
    schema = {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {"user_id": {"type": ["string", "integer"]}, "title_contains": {"type": "string"},
                       "body_contains": {"type": "string"}},
    }

    def describe(self, spec: Spec) -> str:
        return "the push webhook received a push" + "".join(
            f" {label} {spec[k]!r}" for k, label in (("user_id", "for user"), ("title_contains", "titled"),
                                                     ("body_contains", "saying")) if k in spec)

    def look(self, spec: Spec) -> str:
        return "spotctl logs workers"

    async def observe(self, stores: Stores, spec: Spec, before: float) -> list[dict[str, Any]]:
        return await stores.sink("/sinks/push", since=before)

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        for r in seen:
            p = r.get("payload") or {}
            if "user_id" in spec and not same(spec["user_id"], p.get("user_id")):
                continue
            if "title_contains" in spec and spec["title_contains"] not in str(p.get("title", "")):
                continue
            if "body_contains" in spec and spec["body_contains"] not in str(p.get("body", "")):
                continue
            return Verdict(True, f"“{p.get('title')}: {p.get('body')}” for user {p.get('user_id')}", r)
        return Verdict(False, f"{len(seen)} new push(es), none matching", seen)


KIND = Push()
