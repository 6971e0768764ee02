"""`kafka:` a record arrived on a topic (since the action, unless `since: any`), with matching fields."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from spotctl.guide.checks.base import Kind, Spec, Verdict, short
from spotctl.guide.template import matches

if TYPE_CHECKING:
    from spotctl.clients.kafka_watch import TopicWatch
    from spotctl.guide.stores import Stores


class Kafka(Kind):
    name = "kafka"
    schema = {
        "type": "object", "additionalProperties": False, "required": ["topic"],
        "properties": {"topic": {"type": "string", "minLength": 1}, "match": {"type": "object"}},
    }

    def describe(self, spec: Spec) -> str:
        return f"kafka topic {spec['topic']} got a record" + (f" with {short(spec['match'])}" if spec.get("match")
                                                              else "")

    def look(self, spec: Spec) -> str:
        return f"spotctl kafka tail {spec['topic']} -n 5"

    async def before(self, stores: Stores, spec: Spec, since_action: bool) -> TopicWatch:
        """A watch on the topic from its end (from its beginning with `since: any`), before the action."""
        from spotctl.clients.kafka_watch import TopicWatch

        watch = TopicWatch(stores.endpoints.kafka_bootstrap_servers, str(spec["topic"]),
                           from_beginning=not since_action)
        await asyncio.to_thread(watch.start)
        return watch

    async def observe(self, stores: Stores, spec: Spec, before: TopicWatch) -> list[dict[str, Any]]:
        return await asyncio.to_thread(before.poll)

    async def after(self, before: TopicWatch) -> None:
        await asyncio.to_thread(before.close)

    def judge(self, spec: Spec, seen: Any) -> Verdict:
        """`seen`: the records read since the watch started, each with partition, offset, value."""
        pattern = spec.get("match") or {}
        for record in seen:
            value = record.get("value")
            if not pattern or (isinstance(value, Mapping) and matches(pattern, value)):
                return Verdict(True, f"partition {record['partition']} offset {record['offset']}", record)
        return Verdict(False, f"{len(seen)} new record(s) on {spec['topic']}, none with {short(pattern)}", seen)


KIND = Kafka()
