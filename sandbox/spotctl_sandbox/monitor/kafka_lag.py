"""Kafka consumer lag per group and partition, read with kafka-python (Debian has no Kafka exporter).

Series follow the names of the common kafka_exporter, so dashboards and rules read familiar:
`kafka_consumergroup_lag`, `kafka_consumergroup_current_offset`, `kafka_topic_partition_current_offset`,
and `kafka_up` (0 when the brokers do not answer). `lag_table` is the pure part.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Partition = tuple[str, int]  # (topic, partition)
PROBE_BUDGET_S = 1.0


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


def lag_table(committed: Mapping[str, Mapping[Partition, int]], ends: Mapping[Partition, int]) -> list[PartitionLag]:
    """One row per group and partition the group has committed on (and whose end is known)."""
    return [PartitionLag(group, topic, partition, offset, ends[(topic, partition)])
            for group, offsets in sorted(committed.items())
            for (topic, partition), offset in sorted(offsets.items()) if (topic, partition) in ends]


@dataclass(frozen=True)
class KafkaSnapshot:
    up: bool
    lags: tuple[PartitionLag, ...] = ()
    ends: tuple[tuple[Partition, int], ...] = ()
    error: str = ""


class KafkaLagReader:
    """Long-lived admin and consumer clients (bootstrapping each scrape would cost more than the read)."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._admin: Any = None
        self._consumer: Any = None

    def _clients(self) -> tuple[Any, Any]:
        from kafka import KafkaAdminClient, KafkaConsumer

        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id="spotctl-monitor",
                                           bootstrap_timeout_ms=2000, request_timeout_ms=3000)
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                           enable_auto_commit=False, client_id="spotctl-monitor",
                                           bootstrap_timeout_ms=2000, request_timeout_ms=3000)
        return self._admin, self._consumer

    def read(self) -> KafkaSnapshot:
        """Blocking (run it in a thread): committed offsets of every group against the log ends."""
        from kafka.errors import KafkaError

        try:
            admin, consumer = self._clients()
            groups = sorted(g["group_id"] for g in admin.list_groups())
            committed: dict[str, dict[Partition, int]] = {}
            for group in groups:
                offsets = admin.list_group_offsets({group: None}).get(group, {})
                committed[group] = {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()
                                    if om is not None and om.offset >= 0}
            partitions = sorted({p for offsets in committed.values() for p in offsets})
            ends = self._ends(consumer, partitions, committed)
        except (KafkaError, OSError, ValueError) as exc:
            self.close()  # reconnect from scratch next time: a restarted broker may be a new cluster
            return KafkaSnapshot(up=False, error=str(exc) or type(exc).__name__)
        return KafkaSnapshot(up=True, lags=tuple(lag_table(committed, ends)), ends=tuple(sorted(ends.items())))

    @staticmethod
    def _ends(consumer: Any, partitions: list[Partition], committed: Mapping[str, Mapping[Partition, int]]
              ) -> dict[Partition, int]:
        """Log-end offsets; where one looks behind a group, the last record confirms it.

        The local broker (tansu) reports the end of a partition whose last write was a batch as the
        batch's base offset + 1; reading that batch gives the true end (Apache Kafka: same answer).
        """
        from kafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = {(tp.topic, tp.partition): int(o) for tp, o in consumer.end_offsets(tps).items()}
        behind = [TopicPartition(t, p) for (t, p), end in ends.items()
                  if end > 0 and any(offsets.get((t, p), end) < end for offsets in committed.values())]
        if behind:
            consumer.assign(behind)
            for tp in behind:
                consumer.seek(tp, ends[(tp.topic, tp.partition)] - 1)
            pending, deadline = set(behind), time.monotonic() + PROBE_BUDGET_S
            while pending and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=100).items():
                    if records:
                        ends[(tp.topic, tp.partition)] = max(ends[(tp.topic, tp.partition)], records[-1].offset + 1)
                        pending.discard(tp)
            consumer.assign([])
        return ends

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # closing a client of a dead broker must not hide the outage
                    log.debug("monitor: closing a kafka client: %r", exc)
        self._admin = self._consumer = None
