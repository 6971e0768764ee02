"""What a Kafka consumer needs to heal after its broker restarted: the topics back, the backlog known.

A broker that restarts without its log (the local runtime's tansu is memory-only) forgets topics and
the group's offsets; a consumer still subscribed keeps failing (OffsetCommit UnknownTopicOrPartition)
until something recreates the topics, and then has to rejoin the group. `ensure_topics` recreates
them as a producer would (auto-creation through a metadata request, else an explicit create);
`backlog` says how many records wait behind the consumer's positions (the `stalled` judgement) and
each partition's end: a restarted broker takes a commit of the old offsets that was issued before it
went (aiokafka retries a commit until it lands), so after a loss the group's committed offsets
cannot be trusted, past the end of the new log or not; `FromTheStart` reads it from the beginning.
Offsets cannot tell a new log that producers refilled past the consumer's position before a look:
`kafka_tails` tells it from the last record read, read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from spotctl_sandbox.common import bounded
from spotctl_sandbox.events.kafka_tails import Tails

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


@dataclass(frozen=True)
class Backlog:
    """What the watchdog reads of the consumer's assigned partitions."""

    waiting: int | None  # records behind the positions; None when the broker did not say
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    beyond: list[TopicPartition] = field(default_factory=list)  # position past the end: a lost log


async def backlog(consumer: AIOKafkaConsumer, timeout_s: float = 3.0) -> Backlog:
    """The backlog behind the consumer's positions, each partition's end, and the partitions whose
    position lies beyond their end. Nothing assigned (yet) is no backlog: a joining group is not stalled.

    An end is the higher of ListOffsets' and the high watermark of the consumer's last fetch: tansu
    0.6's ListOffsets answers the last batch's base offset + 1 (4 for a log of 5 records written in
    batches of 3 and 2), which put a consumer at the true end "past" it, a lost log on every look."""
    assigned = list(consumer.assignment())
    if not assigned:
        return Backlog(0)
    try:
        listed = await asyncio.wait_for(consumer.end_offsets(assigned), timeout_s)
        ends = {tp: max(end, consumer.highwater(tp) or 0) for tp, end in listed.items()}
        total, beyond = 0, []
        for tp in assigned:
            position = await asyncio.wait_for(consumer.position(tp), timeout_s)
            end = ends.get(tp, 0)
            if position > end:
                beyond.append(tp)
            total += max(0, end - position)
        return Backlog(total, dict(ends), beyond)
    except (KafkaError, TimeoutError, OSError, AssertionError):
        return Backlog(None)


async def start(consumer: AIOKafkaConsumer, what: str, start_s: float = 30.0, stop_s: float = 10.0) -> None:
    """`consumer.start()` within `start_s` (KafkaTimeoutError if not: try again), the consumer stopped
    within `stop_s` if it failed: a start or stop that hangs must not hold a consumer's retries."""
    try:
        if not await bounded.within(consumer.start(), start_s, f"{what}: consumer start"):
            raise KafkaTimeoutError(f"the Kafka consumer did not start within {start_s:g}s")
    except BaseException:
        await bounded.within(consumer.stop(), stop_s, f"{what}: consumer stop")
        raise


class LostLog:
    """Tells from each `backlog` that the broker lost its log: a position past a partition's end, or
    an end lower than the highest seen (then the highest seen start over from the new ends)."""

    def __init__(self) -> None:
        self.ends: dict[TopicPartition, int] = {}

    def gone(self, now: Backlog) -> list[TopicPartition]:
        # both kinds at once, each partition once: the callers seek every assigned partition anyway, but
        # what they log (and a caller that seeks only these) must name all the broker lost
        gone = list(dict.fromkeys([*now.beyond, *shrunk(self.ends, now.ends)]))
        if gone:
            self.ends = dict(now.ends)
        else:
            for tp, end in now.ends.items():
                self.ends[tp] = max(end, self.ends.get(tp, 0))
        return gone

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions read from their beginning for a loss told elsewhere (`kafka_tails`): the ends
        seen were the old log's, and a new log shorter than them is no second loss."""
        for tp in partitions:
            self.ends.pop(tp, None)


def shrunk(seen: dict[TopicPartition, int], now: dict[TopicPartition, int]) -> list[TopicPartition]:
    """Partitions whose end went back: the broker lost its log, whatever the positions say (a commit
    issued before the loss is retried until the new broker takes it, so they may look fine)."""
    return [tp for tp, end in now.items() if end < seen.get(tp, 0)]


class FromTheStart(ConsumerRebalanceListener):
    """Reads the next assignment's partitions from their beginning instead of the group's committed
    offsets, which a broker that lost its log may hold stale (see `shrunk`). Otherwise the positions
    of a new assignment are the committed offsets: `tails` (if given) is told to check them."""

    def __init__(self, consumer: AIOKafkaConsumer, pending: bool, tails: Tails | None = None) -> None:
        self.consumer, self.pending, self.tails = consumer, pending, tails

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if self.pending and assigned:
            self.pending = False
            await self.consumer.seek_to_beginning(*assigned)
            if self.tails is not None:
                self.tails.rewound(assigned)
            log.warning("kafka: the broker lost its log: read %d partition(s) from their beginning", len(assigned))
        elif self.tails is not None:
            self.tails.doubt()
