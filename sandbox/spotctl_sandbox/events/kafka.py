"""A small aiokafka producer that starts on first use and waits for the broker's acknowledgement.

Callers get a PublishedEvent (topic, partition, offset) only once the broker has the record, so an
event a request acknowledged is not lost; when the broker is down `send` raises a KafkaError after
`timeout_s`, and the next call tries again (no restart needed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from spotctl_sandbox.events.topics import event_value


@dataclass(frozen=True)
class PublishedEvent:
    topic: str
    partition: int
    offset: int


class EventProducer:
    def __init__(self, bootstrap_servers: str, *, client_id: str = "spotctl", timeout_s: float = 5.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self, timeout_s: float | None = None) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        timeout_s = timeout_s or self.timeout_s
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers, client_id=self.client_id, acks="all",
                    request_timeout_ms=int(self.timeout_s * 1000), linger_ms=0,
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout_s)
                except (TimeoutError, KafkaError, OSError) as exc:
                    await producer.stop()
                    raise KafkaError(f"cannot reach Kafka at {self.bootstrap_servers}: {exc!r}") from exc
                except BaseException:  # cancelled mid-start: do not leak the half-started client
                    await asyncio.shield(producer.stop())
                    raise
                self._producer = producer
            return self._producer

    async def send(self, topic: str, payload: dict[str, Any], key: str | None = None) -> PublishedEvent:
        """Publish one JSON event and wait until the broker has it."""
        producer = await self._started()
        try:
            meta = await asyncio.wait_for(
                producer.send_and_wait(topic, event_value(payload), key=key.encode() if key else None),
                self.timeout_s,
            )
        except TimeoutError as exc:
            raise KafkaError(f"Kafka did not acknowledge within {self.timeout_s:g} s") from exc
        return PublishedEvent(topic=meta.topic, partition=meta.partition, offset=meta.offset)

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
