"""`kafka_tails.Tails`, the pure half of telling a replaced log from the last record read again."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from spotctl_sandbox.events import kafka_tails
from spotctl_sandbox.events.kafka_tails import START, Tails, mark

A = TopicPartition("song_played", 0)


def rec(offset: int, value: bytes, ts: int = 1_000) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(A.topic, A.partition, offset, ts, 0, None, value, None, 0, len(value), ())


def test_a_mark_tells_another_record_at_the_same_offset() -> None:
    assert mark(rec(4, b"a")) == mark(rec(4, b"a"))
    assert mark(rec(4, b"a")) != mark(rec(4, b"b"))          # other bytes
    assert mark(rec(4, b"a")) != mark(rec(4, b"a", ts=1_001))  # the same bytes produced again
    assert kafka_tails.offset_of(mark(rec(4, b"a"))) == 4


def test_suspect_from_a_doubt_until_a_reading_begun_after_it_is_judged() -> None:
    tails = Tails()
    assert tails.suspect                       # a consumer that starts has verified nothing
    began = tails.losses
    tails.doubt()                              # a connection lost while reading
    tails.judge(began, {}, {})
    assert tails.suspect                       # that reading began before the loss: it proves nothing
    tails.judge(tails.losses, {}, {})
    assert not tails.suspect


def test_a_tail_missing_or_another_is_a_replaced_log_and_the_new_logs_records_in_hand_are_dropped() -> None:
    tails = Tails()
    tails.saw([rec(3, b"old3"), rec(4, b"old4")])
    same = tails.judge(tails.losses, {A: {4: mark(rec(4, b"old4")), 5: mark(rec(5, b"x"))}}, {})
    assert same.replaced == [] and tails.marks[A] == mark(rec(4, b"old4"))
    in_hand = {A: [rec(5, b"new5"), rec(6, b"new6")]}  # fetched at the old position from the new log
    refilled = tails.judge(tails.losses, {A: {4: mark(rec(4, b"new4")), 5: mark(rec(5, b"new5"))}}, in_hand)
    assert (refilled.replaced, refilled.dropped) == ([A], {A: 2})
    tails.saw([rec(4, b"old4")])
    old_tail = {A: [rec(5, b"old5")]}          # fetched from the old broker before it went: kept
    short = tails.judge(tails.losses, {A: {}}, old_tail)   # the new log ends before the tail
    assert (short.replaced, short.dropped) == ([A], {})


def test_a_position_past_the_record_after_the_tail_goes_back_there() -> None:
    tails = Tails()
    tails.saw([rec(4, b"a")])
    assert tails.ahead({A: 5}) == {}
    assert tails.ahead({A: 3}) == {}           # behind: read again, harmless (events are applied once)
    assert tails.ahead({A: 9}) == {A: 5}       # a commit nothing read on this log led to
    tails.rewound([A])
    assert tails.marks[A] == START and tails.wanted([A]) == {}
    assert tails.ahead({A: 5}) == {A: 0}       # rewound, then a rebalance resumed the old log's commit
