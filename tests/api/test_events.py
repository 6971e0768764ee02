"""The shared Kafka producer: acknowledged sends, and a fast refusal right after a failed connect."""

from __future__ import annotations

import json

import pytest
from aiokafka.errors import KafkaError

from spotctl_sandbox.events import EventProducer, Topic, event_value
from tests.api.conftest import KafkaProbe, free_port


def test_event_values_carry_ts_and_event_id() -> None:
    body = json.loads(event_value({"user_id": "1"}, ts=12.5))
    assert body["ts"] == 12.5 and len(body["event_id"]) == 32 and body["user_id"] == "1"
    assert json.loads(event_value({"ts": 1.0, "event_id": "x"})) == {"ts": 1.0, "event_id": "x"}


async def test_a_failed_connect_is_remembered_briefly() -> None:
    producer = EventProducer(f"127.0.0.1:{free_port()}", timeout_s=1, retry_interval_s=30)
    with pytest.raises(KafkaError, match="cannot reach Kafka"):
        await producer.send(Topic.SONG_PLAYED, {"song_id": 1})
    with pytest.raises(KafkaError, match=r"last attempt \d+\.\d s ago"):
        await producer.send(Topic.SONG_PLAYED, {"song_id": 1})
    await producer.close()


@pytest.mark.stack
async def test_send_returns_where_the_broker_put_it(api_env: dict[str, str], kafka: KafkaProbe) -> None:
    producer = EventProducer(api_env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        where = await producer.send("api_test_probe", {"user_id": "probe", "email": "p@x.io"}, key="probe")
    finally:
        await producer.close()
    record = await kafka.record_at(where.topic, where.partition, where.offset)
    assert where.topic == "api_test_probe"  # a topic of the test's own: no consumer acts on it
    assert record["user_id"] == "probe" and record["email"] == "p@x.io"
