"""`spotctl kafka` against a real broker: a topic and a consumer group of the test's own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

pytestmark = pytest.mark.stack


@pytest.fixture
def topic(stack: Any, uid: str) -> Iterator[str]:
    admin = KafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    admin.create_topics([NewTopic(uid, 2, 1)])
    yield uid
    admin.delete_topics([uid])
    admin.close()


def produce(stack: Any, topic: str, *values: str) -> int:
    """Records keyed user-1 (so one partition), one request each; returns the partition."""
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    parts = {producer.send(topic, v.encode(), key=b"user-1").get(timeout=10).partition for v in values}
    producer.close()
    (part,) = parts
    return int(part)


def test_produce_acks_each_record_and_topics_counts_them(cli, topic: str) -> None:
    result = cli("kafka", "produce", topic, '{"n": 1}', '{"n": 2}', '{"n": 3}', "--key", "user-1", "--json",
                 "-o", "json")
    assert result.code == 0, result
    sent = result.json()
    assert [r["offset"] for r in sent] == [0, 1, 2]
    assert len({r["partition"] for r in sent}) == 1  # one key, one partition

    result = cli("kafka", "topics", "-o", "json")
    assert result.code == 0, result
    mine = next(t for t in result.json() if t["topic"] == topic)
    assert mine["partitions"] == 2 and mine["messages"] == 3


def test_counts_and_lag_are_exact_after_a_batched_write(cli, stack: Any, topic: str, uid: str) -> None:
    """One multi-record batch: tansu reports its end as base offset + 1; spotctl reads the real end."""
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], linger_ms=200)
    for i in range(5):
        producer.send(topic, str(i).encode(), partition=0)
    producer.flush()
    producer.close()
    mine = next(t for t in cli("kafka", "topics", "-o", "json").json() if t["topic"] == topic)
    assert mine["messages"] == 5

    group, tp = f"{uid}-batch", TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], group_id=group,
                             enable_auto_commit=False)
    consumer.assign([tp])
    consumer.commit({tp: OffsetAndMetadata(2, "", -1)})
    consumer.close()
    (g,) = cli("kafka", "groups", group, "-o", "json").json()
    assert (g["partitions"][0]["end"], g["total_lag"]) == (5, 3)


def test_produce_rejects_bad_json_and_reads_stdin(cli, topic: str) -> None:
    bad = cli("kafka", "produce", topic, "{nope", "--json")
    assert bad.code == 2 and "not valid JSON" in bad.err
    from_stdin = cli("kafka", "produce", topic, "-o", "json", input="first\nsecond\n")
    assert from_stdin.code == 0 and len(from_stdin.json()) == 2


def test_tail_reads_without_a_group(cli, stack: Any, topic: str) -> None:
    part = produce(stack, topic, *(json.dumps({"n": i}) for i in range(5)))
    started = time.monotonic()
    last = cli("kafka", "tail", topic, "-n", "2", "-o", "json")
    assert time.monotonic() - started < 15  # a consumer group would wait ~23 s for its assignment
    assert last.code == 0, last
    assert [r["value"] for r in last.lines()] == [{"n": 3}, {"n": 4}]
    assert last.lines()[0]["key"] == "user-1"

    first = cli("kafka", "tail", topic, "--from-beginning", "-n", "1", "-o", "json").lines()
    assert [r["value"] for r in first] == [{"n": 0}]
    from_offset = cli("kafka", "tail", topic, "--offset", "3", "--partition", str(part), "-o", "json").lines()
    assert [r["offset"] for r in from_offset] == [3, 4]

    both = cli("kafka", "tail", topic, "--from-beginning", "--offset", "1")
    assert both.code == 2


def test_tail_follow_prints_new_records(cli, stack: Any, topic: str) -> None:
    proc = cli.popen("kafka", "tail", topic, "--follow", "--timeout", "4", "-o", "json")
    assert proc.stderr is not None
    while "following" not in (line := proc.stderr.readline()):
        assert line, "tail exited before following"
    produce(stack, topic, '{"live": true}')
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert [json.loads(line)["value"] for line in out.splitlines()] == [{"live": True}]


def test_groups_show_lag_and_reset_offsets_moves_them(cli, stack: Any, topic: str, uid: str) -> None:
    part = produce(stack, topic, "1", "2", "3")
    group, tp = f"{uid}-group", TopicPartition(topic, part)
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], group_id=group,
                             enable_auto_commit=False)
    consumer.assign([tp])
    consumer.commit({tp: OffsetAndMetadata(1, "", -1)})
    consumer.close()

    result = cli("kafka", "groups", group, "-o", "json")
    assert result.code == 0, result
    (g,) = result.json()
    assert g["state"] in ("Empty", "Unknown", "Dead") and g["total_lag"] == 2
    assert [(p["partition"], p["committed"], p["end"], p["lag"]) for p in g["partitions"]] == [(part, 1, 3, 2)]

    admin = KafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])

    def committed() -> int:
        return int(admin.list_group_offsets({group: None})[group][tp].offset)

    assert cli("kafka", "reset-offsets", group, "--to-latest").refused()
    plan = cli("kafka", "reset-offsets", group, "--to-earliest", "--dry-run", "-o", "json").json()
    assert plan["applied"] is False and plan["offsets"][0]["to"] == 0
    assert committed() == 1
    moved = cli("kafka", "reset-offsets", group, "--to-latest", "--yes", "-o", "json")
    assert moved.code == 0, moved
    assert moved.json()["offsets"] == [{"topic": topic, "partition": part, "from": 1, "to": 3}]
    assert committed() == 3
    assert cli("kafka", "reset-offsets", group, "--shift-by", "-2", "--yes").code == 0
    assert committed() == 1
    assert cli("kafka", "reset-offsets", group).code == 2  # no mode chosen
    admin.close()


def test_unknown_group_and_topic_are_one_line(cli, uid: str) -> None:
    group = cli("kafka", "groups", f"{uid}-nobody")
    assert group.code == 1 and "no consumer group" in group.err
    topic = cli("kafka", "tail", f"{uid}-absent")
    assert topic.code == 1 and "no topic" in topic.err and "Traceback" not in topic.err


def test_purge_topic_is_confirmed_and_empties_it(cli, stack: Any, topic: str, uid: str) -> None:
    part = produce(stack, topic, "1", "2", "3")
    group, tp = f"{uid}-reader", TopicPartition(topic, part)
    admin = KafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    admin.alter_group_offsets(group, {tp: OffsetAndMetadata(3, "", -1)})  # a reader that read it all
    assert cli("purge", "topic", topic).refused()
    in_place = cli("purge", "topic", topic, "--yes", "-o", "json")
    if in_place.code == 1:  # tansu has no DeleteRecords: it says so and points at --recreate
        assert "DeleteRecords" in in_place.err and "--recreate" in in_place.err
        in_place = cli("purge", "topic", topic, "--yes", "--recreate", "-o", "json")
        # the group reads the new log from its start (0), whatever its reset policy says
        assert in_place.json()["groups"] == [{"group": group, "partitions": [part], "from": 3, "reset": True}]
        assert f"group {group}: committed offsets on {topic} moved back to 0" in in_place.err
        assert admin.list_group_offsets({group: None})[group][tp].offset == 0
    admin.close()
    assert in_place.code == 0, in_place
    assert in_place.json()["purged"] == 3
    assert cli("kafka", "tail", topic, "--from-beginning", "-o", "json").lines() == []
    empty = cli("kafka", "tail", topic)
    assert empty.code == 0 and f"{topic} is empty: no records in its 2 partition(s)" in empty.err


def test_reset_offsets_of_a_group_with_members_says_how_to_stop_them(cli, stack: Any, topic: str,
                                                                     uid: str) -> None:
    import subprocess
    import sys

    # a member of its own process, killed at the end: its join takes the broker's rebalance delay
    # (~23 s on tansu), but the member counts at once
    member = subprocess.Popen([sys.executable, "-c", "import sys; from kafka import KafkaConsumer; c = KafkaConsumer("
                               "sys.argv[1], bootstrap_servers=sys.argv[2], group_id=sys.argv[3]); "
                               "[c.poll(timeout_ms=200) for _ in iter(int, 1)]",
                               topic, stack.env["KAFKA_BOOTSTRAP_SERVERS"], f"{uid}-live"])
    try:
        deadline = time.monotonic() + 30
        while True:
            busy = cli("kafka", "reset-offsets", f"{uid}-live", "--topic", topic, "--to-earliest", "--yes")
            if "active member" in busy.err or time.monotonic() > deadline:
                break
        assert busy.code == 1 and "active member" in busy.err, busy
        assert "spotctl down workers" in busy.err and f"reset-offsets {uid}-live --topic {topic}" in busy.err
    finally:
        member.kill()
        member.wait()


def test_down_kafka_names_the_servers(cli, closed_port) -> None:
    servers = f"127.0.0.1:{closed_port()}"
    assert cli("kafka", "topics", "--bootstrap", servers).down("kafka", servers)
