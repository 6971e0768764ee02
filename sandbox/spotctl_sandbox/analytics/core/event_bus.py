"""EventBus: the stack's Kafka topics (created here, dead letters produced here) and Redis pub/sub
for live updates (the WebSocket relays `metric_update` frames published on one channel)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from spotctl_sandbox.analytics.processing.events import DEAD_LETTER_TOPIC, TOPICS
from spotctl_sandbox.analytics.storage.cache import LIVE_CHANNEL
from spotctl_sandbox.events.kafka import EventProducer

log = logging.getLogger(__name__)
PARTITIONS = 3  # the compose file's KAFKA_NUM_PARTITIONS


class EventBus:
    def __init__(self, bootstrap: str, redis: aioredis.Redis, redis_url: str) -> None:
        self.bootstrap = bootstrap
        self.redis = redis
        # Subscribers wait for minutes between messages: no read timeout on their connections.
        self.subscriber = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2)
        self.producer = EventProducer(bootstrap, client_id="spotctl-analytics")

    async def ensure_topics(self, topics: tuple[str, ...] = (*TOPICS, DEAD_LETTER_TOPIC)) -> None:
        """Create the topics the processor reads and writes (a group cannot subscribe to none)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="spotctl-analytics-admin",
                                    request_timeout_ms=5000)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [NewTopic(t, PARTITIONS, 1) for t in topics if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    async def dead_letters(self, letters: list[dict[str, Any]]) -> None:
        for letter in letters:
            await self.producer.send(DEAD_LETTER_TOPIC, letter, key=letter["topic"])

    async def publish_update(self, data: dict[str, Any]) -> None:
        await self.redis.publish(LIVE_CHANNEL, orjson.dumps({"type": "metric_update", "data": data}))

    async def updates(self) -> AsyncIterator[bytes]:
        """Frames published on the live channel, for one WebSocket (its own subscription)."""
        pubsub = self.subscriber.pubsub()
        await pubsub.subscribe(LIVE_CHANNEL)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield message["data"]
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(LIVE_CHANNEL)
                await pubsub.aclose()

    async def close(self) -> None:
        with contextlib.suppress(KafkaError):
            await self.producer.close()
        await self.subscriber.aclose()
