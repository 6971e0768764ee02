"""The collected series: Kafka lag and BullMQ depth, read when Prometheus scrapes (like an exporter).

A read is reused for `ttl_s` so two scrapers do not double the load; a store that does not answer
leaves its series out (and sets `kafka_up` to 0), it never fails the scrape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spotctl_sandbox.monitor.bull_depth import BullDepthReader
from spotctl_sandbox.monitor.kafka_lag import KafkaLagReader, KafkaSnapshot

log = logging.getLogger(__name__)

KAFKA_READ_TIMEOUT_S = 8.0  # below Prometheus' 10 s scrape timeout


class StackCollector(Collector):
    def __init__(self, kafka: KafkaLagReader, bull: BullDepthReader, ttl_s: float = 2.0) -> None:
        self.kafka = kafka
        self.bull = bull
        self.ttl_s = ttl_s
        self._kafka = KafkaSnapshot(up=False, error="not read yet")
        self._bull: dict[str, dict[str, int]] = {}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self._kafka_read: asyncio.Future[KafkaSnapshot] | None = None

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at < self.ttl_s:
                return
            self._kafka, self._bull = await asyncio.gather(self._read_kafka(), self._read_bull())
            self._read_at = time.monotonic()

    async def _read_kafka(self) -> KafkaSnapshot:
        # kafka-python blocks: read in a thread, and never start a second read while one still runs
        if self._kafka_read is None or self._kafka_read.done():
            self._kafka_read = asyncio.ensure_future(asyncio.to_thread(self.kafka.read))
        try:
            return await asyncio.wait_for(asyncio.shield(self._kafka_read), KAFKA_READ_TIMEOUT_S)
        except TimeoutError:
            return KafkaSnapshot(up=False, error=f"no answer within {KAFKA_READ_TIMEOUT_S:g} s")

    async def _read_bull(self) -> dict[str, dict[str, int]]:
        try:
            return await self.bull.read()
        except Exception as exc:  # Redis down: the redis exporter's redis_up says so
            log.debug("monitor: bullmq depth not read: %r", exc)
            return {}

    def collect(self) -> Iterator[Metric]:
        snapshot = self._kafka
        up = GaugeMetricFamily("kafka_up", "1 when the Kafka brokers answered the monitor's last read")
        up.add_metric([], 1 if snapshot.up else 0)
        yield up
        lag = GaugeMetricFamily("kafka_consumergroup_lag", "Log end minus committed offset",
                                labels=["group", "topic", "partition"])
        current = GaugeMetricFamily("kafka_consumergroup_current_offset", "Committed offset of the group",
                                    labels=["group", "topic", "partition"])
        for row in snapshot.lags:
            labels = [row.group, row.topic, str(row.partition)]
            lag.add_metric(labels, row.lag)
            current.add_metric(labels, row.committed)
        end = GaugeMetricFamily("kafka_topic_partition_current_offset", "Log end offset of the partition",
                                labels=["topic", "partition"])
        for (topic, partition), offset in snapshot.ends:
            end.add_metric([topic, str(partition)], offset)
        yield from (lag, current, end)
        depth = GaugeMetricFamily("bullmq_queue_jobs", "BullMQ jobs per queue and state", labels=["queue", "state"])
        for queue, states in sorted(self._bull.items()):
            for state, count in states.items():
                depth.add_metric([queue, state], count)
        yield depth
