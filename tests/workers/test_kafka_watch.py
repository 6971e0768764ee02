"""What the analytics consumer's watchdog reads after a broker restart, against the real broker.

A commit issued just before tansu restarted is retried by aiokafka until the new broker takes it, so
the group's committed offsets after a restart are the old log's: past the end of the new log, or
worse, inside it (the first records of the new log skipped). `backlog` names partitions read past
their end, `shrunk` those whose end went back, and `FromTheStart` reads the next assignment from the
beginning instead of the committed offsets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from spotctl_sandbox.events import kafka_watch

pytestmark = pytest.mark.stack


@pytest.fixture
async def stale_group(env: dict[str, str]) -> AsyncIterator[tuple[str, TopicPartition, str]]:
    """A topic of two records and a group that never read it, holding the commit `commit` sets."""
    bootstrap, run = env["KAFKA_BOOTSTRAP_SERVERS"], uuid.uuid4().hex[:8]
    topic = f"watch-{run}"
    await kafka_watch.ensure_topics(bootstrap, [topic], {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for i in range(2):
        await producer.send_and_wait(topic, json.dumps({"i": i}).encode(), partition=0)
    await producer.stop()
    yield bootstrap, TopicPartition(topic, 0), f"watch-{run}"


async def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    """What the old member's retried commit leaves in the new broker."""
    stale = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await stale.start()
    stale.assign([tp])
    await stale.commit({tp: OffsetAndMetadata(offset, "")})
    await stale.stop()


async def read_all(consumer: AIOKafkaConsumer, tp: TopicPartition) -> list[int]:
    seen: list[int] = []
    for _ in range(20):  # the group's join takes a few seconds on tansu
        batch = await consumer.getmany(tp, timeout_ms=500)
        seen += [json.loads(r.value)["i"] for r in batch.get(tp, [])]
        if seen and not (await kafka_watch.backlog(consumer)).waiting:
            break
    return seen


async def test_a_committed_offset_past_the_end_of_the_log_is_named_and_a_seek_reads_the_log(
        stale_group: tuple[str, TopicPartition, str]) -> None:
    bootstrap, tp, group = stale_group
    await commit(bootstrap, group, tp, 40)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        now = await kafka_watch.backlog(consumer)
        assert (now.waiting, now.beyond, now.ends) == (0, [tp], {tp: 2})
        await consumer.seek_to_beginning(*now.beyond)
        assert await read_all(consumer, tp) == [0, 1]
        assert (await kafka_watch.backlog(consumer)).beyond == []
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("from_the_start", "read"), [(False, [1]), (True, [0, 1])])
async def test_a_stale_commit_inside_the_new_log_skips_its_first_records_unless_read_from_the_start(
        stale_group: tuple[str, TopicPartition, str], from_the_start: bool, read: list[int]) -> None:
    bootstrap, tp, group = stale_group
    await commit(bootstrap, group, tp, 1)  # the old log's offset: inside the new one, nothing says so
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.subscribe([tp.topic], listener=kafka_watch.FromTheStart(consumer, pending=from_the_start))
        assert await read_all(consumer, tp) == read
    finally:
        await consumer.stop()


def test_an_end_that_went_back_is_a_lost_log() -> None:
    a, b = TopicPartition("song_played", 0), TopicPartition("song_played", 1)
    assert kafka_watch.shrunk({a: 6, b: 2}, {a: 3, b: 2}) == [a]
    assert kafka_watch.shrunk({}, {a: 3}) == []
    assert kafka_watch.shrunk({a: 3}, {a: 5, b: 1}) == []


def test_a_lost_log_is_told_from_the_backlogs_seen_and_told_once() -> None:
    """`LostLog` is pure: the backlogs it is fed decide. An end below the highest seen or a position
    past the end is a lost log; the history then starts over from the new ends, so the next look at
    the same short log is not a second loss (no seek on every look)."""
    a, b = TopicPartition("user_registered", 0), TopicPartition("song_played", 0)
    lost = kafka_watch.LostLog()
    assert lost.gone(kafka_watch.Backlog(0, {a: 5, b: 9})) == []           # nothing seen before: no loss
    assert lost.gone(kafka_watch.Backlog(0, {a: 7, b: 9})) == []           # a log that went on
    assert lost.gone(kafka_watch.Backlog(None)) == []                      # the broker did not say (down)
    assert lost.gone(kafka_watch.Backlog(0, {a: 7})) == []                 # b not assigned now: not lost
    assert lost.gone(kafka_watch.Backlog(0, {a: 6, b: 9})) == [a]          # below the highest seen (7)
    assert lost.gone(kafka_watch.Backlog(0, {a: 6, b: 9})) == []           # told once
    assert lost.gone(kafka_watch.Backlog(0, {a: 0, b: 3}, beyond=[b])) == [b, a]  # b's position past its end,
    # and a's end below the highest seen in the same look: both are named
    assert lost.ends == {a: 0, b: 3}                                       # the history starts over
    assert lost.gone(kafka_watch.Backlog(2, {a: 2, b: 3})) == []           # the new log goes on


def test_an_end_that_went_back_while_its_partition_was_not_read_is_still_a_lost_log() -> None:
    """The highest end is kept across looks that miss a partition (unassigned for a rebalance, the broker
    not answering): a loss during the gap is still told by the end that comes back lower."""
    a = TopicPartition("song_played", 0)
    lost = kafka_watch.LostLog()
    lost.gone(kafka_watch.Backlog(0, {a: 1000}))
    lost.gone(kafka_watch.Backlog(None))
    lost.gone(kafka_watch.Backlog(0))
    assert lost.gone(kafka_watch.Backlog(0, {a: 40})) == [a]
