"""What a Kafka consumer needs to heal after its broker restarted: the topics back, the backlog known.

A broker that restarts without its log (the local runtime's tansu is memory-only) forgets topics and
the group's offsets; a consumer still subscribed keeps failing (OffsetCommit UnknownTopicOrPartition)
until something recreates the topics, and then has to rejoin the group. `ensure_topics` recreates
them as a producer would (auto-creation through a metadata request, else an explicit create);
`backlog` says how many records wait behind the consumer's positions (the `stalled` judgement) and
which positions lie beyond their log's end: a restarted broker can even take an old member's commit
of its old offsets, so a rebuilt consumer resumes past the end of the new log; only a seek helps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 1  # only when the broker does not auto-create topics and we never saw them


async def missing_topics(bootstrap: str, topics: Sequence[str], timeout_s: float = 5.0) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        present = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
    finally:
        await admin.close()
    return [t for t in topics if t not in present]


async def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: dict[str, int],
                        timeout_s: float = 5.0) -> list[str]:
    """Recreate the topics the broker lost; returns those that were missing."""
    missing = await missing_topics(bootstrap, topics, timeout_s)
    if not missing:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_topics(missing), timeout_s)  # auto-creates, broker's defaults
        still = set(missing) - set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        if still:
            try:
                await admin.create_topics([NewTopic(t, partitions.get(t, DEFAULT_PARTITIONS), 1) for t in still])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    log.warning("kafka: recreated topics the broker had lost: %s", ", ".join(missing))
    return missing


async def backlog(consumer: AIOKafkaConsumer, timeout_s: float = 3.0) -> tuple[int | None, list[TopicPartition]]:
    """(records behind the consumer's positions on its assigned partitions, None if unknown;
    the partitions whose position lies beyond their end: a broker that lost its log).
    Nothing assigned (yet) is no backlog: a group still joining is not stalled."""
    assigned = list(consumer.assignment())
    if not assigned:
        return 0, []
    try:
        ends = await asyncio.wait_for(consumer.end_offsets(assigned), timeout_s)
        total, beyond = 0, []
        for tp in assigned:
            position = await asyncio.wait_for(consumer.position(tp), timeout_s)
            end = ends.get(tp, 0)
            if position > end:
                beyond.append(tp)
            total += max(0, end - position)
        return total, beyond
    except (KafkaError, TimeoutError, OSError, AssertionError):
        return None, []
