"""Where tail starts, what it prints, how lag and offset resets are computed: no broker needed."""

from __future__ import annotations

import pytest

from spotctl.errors import UsageError
from spotctl.inspect.kafka_view import Reset, Start, TailPlan, lag_rows, parse_partitions, record_view, reset_targets

P0, P1 = ("t", 0), ("t", 1)


def test_tail_defaults_to_the_newest_ten() -> None:
    plan = TailPlan.from_flags(from_beginning=False, offset=None, n=None, follow=False)
    assert (plan.start, plan.n) == (Start.LAST, 10)
    assert plan.first_offsets({P0: 0, P1: 5}, {P0: 30, P1: 8}) == {P0: 20, P1: 5}


def test_offset_is_kept_past_the_reported_end_but_not_before_the_start() -> None:
    plan = TailPlan.from_flags(False, offset=3, n=None, follow=False)
    assert plan.first_offsets({P0: 0, P1: 5}, {P0: 1, P1: 9}) == {P0: 3, P1: 5}


def test_follow_without_n_has_no_limit_and_flags_conflict() -> None:
    assert TailPlan.from_flags(False, None, None, follow=True).n is None
    with pytest.raises(UsageError):
        TailPlan.from_flags(True, 4, None, False)


def test_select_keeps_the_last_n_for_tail_and_the_first_n_otherwise() -> None:
    records = [{"timestamp_ms": ts, "partition": p, "offset": o} for ts, p, o in
               [(30, 1, 0), (10, 0, 0), (20, 0, 1), (40, 1, 1)]]
    last = TailPlan(Start.LAST, 2).select(records)
    assert [r["timestamp_ms"] for r in last] == [30, 40]
    first = TailPlan(Start.BEGINNING, 2).select(records)
    assert [r["timestamp_ms"] for r in first] == [10, 20]
    assert TailPlan(Start.BEGINNING, 2).per_partition_cap() == 2 and TailPlan(Start.LAST, 2).per_partition_cap() is None


def test_record_view_parses_json_values_and_decodes_keys() -> None:
    r = record_view("t", 0, 7, 1_700_000_000_000, b"user-1", b'{"a": 1}', [("h", b"v")])
    assert (r["key"], r["value"], r["headers"], r["time"]) == ("user-1", {"a": 1}, {"h": "v"},
                                                              "2023-11-14T22:13:20.000+00:00")
    assert record_view("t", 0, 0, 0, None, b"\xff", None)["value"] == "\\xff"


def test_lag_is_never_negative_and_unknown_without_an_end() -> None:
    rows = lag_rows({P0: 3, P1: 9, ("u", 0): 1}, {P0: 10, P1: 5})
    assert [(r["partition"], r["lag"]) for r in rows] == [(0, 7), (1, 0), (0, None)]


def test_reset_targets_clamp_into_the_log() -> None:
    current = {P0: 4, P1: None}
    begin, end = {P0: 2, P1: 0}, {P0: 10, P1: 6}
    assert reset_targets(Reset.EARLIEST, None, current, begin, end) == {P0: 2, P1: 0}
    assert reset_targets(Reset.LATEST, None, current, begin, end) == {P0: 10, P1: 6}
    assert reset_targets(Reset.OFFSET, 99, current, begin, end) == {P0: 10, P1: 6}
    assert reset_targets(Reset.SHIFT, -3, current, begin, end) == {P0: 2, P1: 0}


def test_partition_lists() -> None:
    assert parse_partitions("0,2") == {0, 2} and parse_partitions(None) is None
    with pytest.raises(UsageError):
        parse_partitions("a")
