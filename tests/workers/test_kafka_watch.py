"""What the analytics consumer's watchdog reads after a broker restart, against the real broker.

tansu takes an OffsetCommit of offsets beyond a partition's end (an old member committing the
positions it had before the broker lost its log): a consumer of that group then resumes past the end
and reads nothing, however often it is rebuilt. `backlog` names such partitions so they can be read
from their beginning again.
"""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from spotctl_sandbox.workers import kafka_watch

pytestmark = pytest.mark.stack


async def test_a_committed_offset_past_the_end_of_the_log_is_named_and_a_seek_reads_the_log(
        env: dict[str, str]) -> None:
    bootstrap, run = env["KAFKA_BOOTSTRAP_SERVERS"], uuid.uuid4().hex[:8]
    topic, group = f"watch-{run}", f"watch-{run}"
    await kafka_watch.ensure_topics(bootstrap, [topic], {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    for i in range(2):
        await producer.send_and_wait(topic, json.dumps({"i": i}).encode(), partition=0)
    await producer.stop()
    tp = TopicPartition(topic, 0)

    stale = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await stale.start()
    stale.assign([tp])
    await stale.commit({tp: OffsetAndMetadata(40, "")})  # what the old member had before the restart
    await stale.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        waiting, beyond = await kafka_watch.backlog(consumer)
        assert (waiting, beyond) == (0, [tp])
        await consumer.seek_to_beginning(*beyond)
        batch = await consumer.getmany(tp, timeout_ms=5000)
        assert [json.loads(r.value)["i"] for r in batch.get(tp, [])] == [0, 1]
        assert await kafka_watch.backlog(consumer) == (0, [])
    finally:
        await consumer.stop()
