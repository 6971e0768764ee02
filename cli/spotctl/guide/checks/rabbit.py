"""`rabbit:` a RabbitMQ queue exists and has at least `min_consumers` consumers (1 by default)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict

if TYPE_CHECKING:
    from spotctl.guide.stores import Stores


class Rabbit(Kind):
    name = "rabbit"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["queue"],
        "properties": {"queue": {"type": "string", "minLength": 1},
                       "min_consumers": {"type": "integer", "minimum": 0}},
    }

    def describe(self, spec: Spec) -> str:
        return f"rabbitmq queue {spec['queue']} has ≥ {spec.get('min_consumers', 1)} consumer(s)"

    def look(self, spec: Spec) -> str:
        return "spotctl rabbit queues"

    async def observe(self, stores: Stores, spec: Spec, before: Any) -> dict[str, Any] | None:
        name = str(spec["queue"])
        queue = await asyncio.to_thread(lambda: stores.rabbit().queue(name))
        if queue is None:
            return None
        return {"queue": queue["name"], "consumers": queue["consumers"],
                "messages": queue["ready"] + queue["unacked"]}

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        if seen is None:
            return Verdict(False, f"no queue {spec['queue']}")
        need = int(spec.get("min_consumers", 1))
        consumers = int(seen.get("consumers") or 0)
        if consumers < need:
            return Verdict(False, f"{consumers} consumer(s), expected ≥ {need}", seen)
        return Verdict(True, f"{consumers} consumer(s), {seen.get('messages', 0)} message(s) waiting", seen)


KIND = Rabbit()
