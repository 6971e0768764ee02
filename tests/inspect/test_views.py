"""The pure helpers of the Redis, RabbitMQ, BullMQ and hub views, and the shared value conversions."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from spotctl.clients.reach import redact
from spotctl.errors import UsageError
from spotctl.inspect import hub_view, jobs_view, rabbit_view, redis_view, values
from spotctl.inspect.tabular import records, to_csv


def test_redis_info_summary_computes_both_hit_rates() -> None:
    s = redis_view.summarize_info({"keyspace_hits": 3, "keyspace_misses": 1, "used_memory": 2048,
                                   "db0": {"keys": 5, "expires": 2}}, app_hits=0, app_misses=0)
    assert s["keyspace"]["hit_rate"] == 0.75 and s["app_cache"]["hit_rate"] is None
    assert s["keyspace"]["dbs"] == {"db0": {"keys": 5, "expires": 2}}
    assert ("memory used", "2.0 KiB") in redis_view.info_rows(s)


def test_redis_key_view_rows_per_type() -> None:
    z = redis_view.KeyView("k", redis_view.KeyType.zset, -1, 3, [{"member": "a", "score": 2.0}], truncated=True)
    assert z.rows() == [(1, "a", 2.0)] and z.columns() == ("rank", "member", "score")
    assert "showing 1" in z.heading() and "no expiry" in z.heading()
    assert redis_view.is_pattern("news:*") and not redis_view.is_pattern("news")


def test_rabbit_dead_letter_origin_and_reason() -> None:
    headers = {"x-death": [{"queue": "work", "reason": b"rejected", "count": 2, "exchange": "",
                            "routing-keys": ["work"], "time": dt.datetime(2026, 1, 1, 12, 0)}]}
    death = rabbit_view.death_summary(headers)
    assert death == {"reason": "rejected", "queue": "work", "exchange": "", "routing_keys": ["work"],
                     "count": 2, "time": "2026-01-01T12:00:00+00:00"}
    assert rabbit_view.origin_queue("work.dlq", headers) == "work"
    assert rabbit_view.origin_queue("other.dlq", None) == "other"
    assert rabbit_view.dlq_name("work") == rabbit_view.dlq_name("work.dlq") == "work.dlq"


def test_rabbit_queue_summary_reads_rates_and_dlx() -> None:
    q = rabbit_view.queue_summary({"name": "q", "messages_ready": 4, "message_stats": {
        "publish_details": {"rate": 1.234}}, "arguments": {"x-dead-letter-exchange": "dlx"}})
    assert (q["ready"], q["publish_rate"], q["deliver_rate"], q["dead_letter_exchange"]) == (4, 1.23, 0.0, "dlx")


def test_header_pairs() -> None:
    assert rabbit_view.parse_headers(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UsageError):
        rabbit_view.parse_headers(["novalue"])


def test_bullmq_queues_are_found_from_their_keys() -> None:
    names = jobs_view.queue_names(["bull:mine:meta", "bull:mine:id", "bull:other:id", "bull:x:1", "foo:y:meta"])
    assert names == sorted({"mine", "other", *jobs_view.CONTRACT_QUEUES})
    assert jobs_view.CleanState.waiting.bull_set == "wait" and jobs_view.CleanState.failed.bull_set == "failed"


def test_hub_targets() -> None:
    assert hub_view.Target.parse("lobby").join() == ("join", {"room": "lobby"})
    assert hub_view.Target.parse("room:lobby").topic == "room:lobby"
    chat = hub_view.Target.parse("chat:12")
    assert chat.message("hi") == ("chat_message", {"channel_id": 12, "text": "hi"})
    assert hub_view.Target.parse("r").message('{"a": 1}', "HIGH") == (
        "room_message", {"room": "r", "data": {"a": 1}, "priority": "HIGH"})
    for bad in ("chat:x", "a b"):
        with pytest.raises(UsageError):
            hub_view.Target.parse(bad)
    assert hub_view.parse_command("/join lobby") == ("join", "lobby")
    assert hub_view.parse_command("hello") == ("say", "hello")
    named = hub_view.Target.parse("#general")
    assert named.unresolved and named.label == "#general" and not hub_view.Target.parse("lobby").unresolved
    assert named.join() == ("channel_join", {"name": "general"})  # the hub finds it, or makes it
    assert named.resolved(7).join() == ("channel_join", {"channel_id": 7})
    assert named.resolved(7).message("hi") == ("chat_message", {"channel_id": 7, "text": "hi"})
    with pytest.raises(UsageError):
        hub_view.Target.parse("#")


def test_frames_read_as_chat_lines() -> None:
    names = {7: "general"}
    message = {"type": "chat_message", "timestamp": "2026-11-25T18:56:51.048Z",
               "content": {"channel_id": 7, "user_id": "alice", "name": "Alice", "text": "hi [b]there[/b]",
                           "created_at": "2026-11-25T18:56:50.000+00:00"}}
    line = hub_view.chat_line(message, names)
    assert line.endswith("] #general Alice: hi [b]there[/b]") and line.startswith("[")
    elsewhere = {**message, "content": {**message["content"], "channel_id": 9, "channel_name": "jazz"}}
    assert hub_view.chat_line(elsewhere, names).endswith("] #jazz Alice: hi [b]there[/b]")  # the frame's own name
    assert hub_view.chat_line({"type": "typing", "content": {"channel_id": 8, "user_id": "bob", "typing": True}},
                              names) == "  chat:8 bob is typing…"
    assert hub_view.chat_line({"type": "presence", "content": {"channel_id": 7, "user_id": "bob",
                                                               "status": "online"}}, names) == \
        "  #general bob is online"
    batch = {"type": "notification_batch", "content": {"notifications": [
        {"priority": "LOW", "title": "a", "content": "x"}, {"priority": "LOW", "title": "b", "content": "y"}]}}
    assert [line.split("] ", 1)[1] for line in hub_view.chat_line(batch, names).splitlines()] == [
        "! LOW a — x", "! LOW b — y"]
    assert "pong" in hub_view.chat_line({"type": "pong", "content": {}}, names)


def test_hub_metrics_per_worker_and_rates() -> None:
    text = ('hub_connections{worker="0"} 2.0\nhub_connections{worker="1"} 3.0\n'
            '# TYPE hub_messages_in_total counter\n'
            'hub_messages_in_total{type="join",worker="0"} 4.0\nhub_messages_in_total{type="ping",worker="0"} 6.0\n')
    before = hub_view.worker_stats(text)
    assert before["0"]["connections"] == 2 and before["0"]["messages_in"] == 10
    after = {w: dict(v) for w, v in before.items()}
    after["0"]["messages_in"] += 20
    rows = hub_view.with_rates(before, after, 2.0)
    assert rows[0]["in_per_s"] == 10.0 and rows[1]["connections"] == 3


def test_values_and_redaction() -> None:
    assert values.human_bytes(1536) == "1.5 KiB" and values.human_ttl(-1) == "no expiry"
    assert values.human_duration(3725) == "1h 2m 5s"
    assert values.jsonable({"d": decimal.Decimal("1.50"), "b": b"\x00", "u": uuid.UUID(int=0)}) == {
        "d": "1.50", "b": "AA==", "u": "00000000-0000-0000-0000-000000000000"}
    with pytest.raises(UsageError, match="not valid JSON"):
        values.parse_json_object("{x", "filter")
    assert redact("amqp://guest:secret@host:5672/%2F") == "amqp://guest:***@host:5672/%2F"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"


def test_tabular_csv_and_records() -> None:
    assert to_csv(["a", "b"], [(1, None), ("x,y", {"k": 1})]) == 'a,b\n1,\n"x,y","{""k"": 1}"\n'
    assert records(["a"], [(dt.date(2026, 1, 2),)]) == [{"a": "2026-01-02"}]
