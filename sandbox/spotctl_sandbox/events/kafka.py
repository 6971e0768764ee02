"""A small aiokafka producer that starts on first use and waits for the broker's acknowledgement.

Callers get a PublishedEvent (topic, partition, offset) only once the broker has the record, so an
event a request acknowledged is not lost; when the broker is down `send` raises a KafkaError after
`timeout_s`, and a later call tries again (no restart needed). Within `retry_interval_s` of a
failed connect, calls fail at once instead of queueing behind another slow attempt (a small
circuit breaker).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from spotctl_sandbox.common import logs
from spotctl_sandbox.events.topics import event_value


@dataclass(frozen=True)
class PublishedEvent:
    topic: str
    partition: int
    offset: int


class EventProducer:
    def __init__(self, bootstrap_servers: str, *, client_id: str = "spotctl", timeout_s: float = 5.0,
                 retry_interval_s: float = 1.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.retry_interval_s = retry_interval_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._failure: tuple[float, str] | None = None  # (monotonic time, reason) of the last failed start

    def _fail_fast(self) -> None:
        if self._failure is not None and time.monotonic() - self._failure[0] < self.retry_interval_s:
            ago = time.monotonic() - self._failure[0]
            raise KafkaError(f"{self._failure[1]} (last attempt {ago:.1f} s ago)")

    async def _started(self, timeout_s: float | None = None) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        timeout_s = timeout_s or self.timeout_s
        self._fail_fast()
        async with self._lock:
            self._fail_fast()
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers, client_id=self.client_id, acks="all",
                    request_timeout_ms=int(self.timeout_s * 1000), linger_ms=0,
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout_s)
                except (TimeoutError, KafkaError, OSError) as exc:
                    await producer.stop()
                    reason = f"cannot reach Kafka at {self.bootstrap_servers}: {exc!r}"
                    self._failure = (time.monotonic(), reason)
                    raise KafkaError(reason) from exc
                except BaseException:  # cancelled mid-start: do not leak the half-started client
                    await asyncio.shield(producer.stop())
                    raise
                self._producer, self._failure = producer, None
            return self._producer

    async def send(self, topic: str, payload: dict[str, Any], key: str | None = None) -> PublishedEvent:
        """Publish one JSON event and wait until the broker has it."""
        producer = await self._started()
        try:
            meta = await asyncio.wait_for(
                producer.send_and_wait(topic, event_value(payload), key=key.encode() if key else None,
                                       headers=logs.kafka_headers()),
                self.timeout_s,
            )
        except TimeoutError as exc:
            raise KafkaError(f"Kafka did not acknowledge within {self.timeout_s:g} s") from exc
        return PublishedEvent(topic=meta.topic, partition=meta.partition, offset=meta.offset)

    async def send_many(self, records: list[tuple[str, dict[str, Any], str | None]]) -> list[PublishedEvent]:
        """Publish (topic, payload, key) records together and wait, `timeout_s` in all, until the broker
        has every one (raises KafkaError otherwise: then some may have landed, so callers that retry
        must let consumers de-duplicate on `event_id`)."""
        producer = await self._started()

        async def all_sent() -> list[PublishedEvent]:
            futures = [await producer.send(topic, event_value(payload), key=key.encode() if key else None,
                                           headers=logs.kafka_headers(payload))
                       for topic, payload, key in records]
            metas = await asyncio.gather(*futures)
            return [PublishedEvent(topic=m.topic, partition=m.partition, offset=m.offset) for m in metas]

        try:
            return await asyncio.wait_for(all_sent(), self.timeout_s)
        except TimeoutError as exc:
            raise KafkaError(f"Kafka did not acknowledge within {self.timeout_s:g} s") from exc

    async def ping(self, timeout_s: float | None = None) -> None:
        """Raise unless the broker answers a metadata request (used by health checks)."""
        producer = await self._started(timeout_s)
        ok = await asyncio.wait_for(producer.client.force_metadata_update(), timeout_s or self.timeout_s)
        if not ok:
            raise KafkaError("metadata request failed")

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
