"""A watch on one Kafka topic's new records, for the guide's checks (before an action, then after it).

Read the way clients/kafka.py reads: partitions assigned by hand, no group, nothing committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotctl.clients.kafka import new_consumer, view

if TYPE_CHECKING:
    from kafka import KafkaConsumer


class TopicWatch:
    """New records of one topic since `start()`: partitions assigned by hand, no group, no commits.

    Blocking (run it in a thread from async code). Its metadata lookups find a topic that appears after
    the watch started (e.g. created by the action being verified), which is then read from its beginning.
    """

    def __init__(self, servers: str, topic: str, from_beginning: bool = False) -> None:
        self.servers, self.topic, self.from_beginning = servers, topic, from_beginning
        self.records: list[dict[str, Any]] = []
        self._consumer: KafkaConsumer | None = None
        self._assigned: set[int] = set()

    def start(self) -> None:
        self._consumer = new_consumer(self.servers)
        self._assign(at_end=not self.from_beginning)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

    def _assign(self, at_end: bool) -> None:
        from kafka import TopicPartition

        assert self._consumer is not None
        found = set(self._consumer.partitions_for_topic(self.topic) or ())
        if not found - self._assigned:
            return
        parts = [TopicPartition(self.topic, p) for p in sorted(found)]
        positions = {tp: self._consumer.position(tp) for tp in parts if tp.partition in self._assigned}
        starts = self._consumer.end_offsets(parts) if at_end else self._consumer.beginning_offsets(parts)
        self._consumer.assign(parts)
        for tp in parts:
            self._consumer.seek(tp, positions.get(tp, starts[tp]))
        self._assigned = found

    def poll(self) -> list[dict[str, Any]]:
        """Every record seen since `start()` (the list grows with each call)."""
        assert self._consumer is not None, "start() the watch first"
        if not self._assigned:
            self._assign(at_end=False)  # created since start(): everything in it is new
            if not self._assigned:
                return self.records
        for batch in self._consumer.poll(timeout_ms=300, max_records=500).values():
            self.records += [view(m) for m in batch]
        return self.records
