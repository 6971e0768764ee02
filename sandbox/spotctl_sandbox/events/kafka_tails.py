"""Whether the log a consumer reads on is still the one it read: the last record read, read again.

Offsets alone cannot tell a broker that lost its log (tansu is memory-only) once producers refilled
the new log past the consumer's position: nothing is past an end, no end went back, and the new
log's first records are skipped. Neither can the broker's identity: tansu keeps its configured
cluster id across restarts, aiokafka's Metadata (v5) has no topic ids, and tansu drops a commit's
metadata. What does tell it is the record just before the position: a consumer keeps a mark of the
last record it read per partition (offset, timestamp, a CRC of key and value: `Tails`); when that
record, read again from the broker, is missing or another, the log was replaced and the partition is
read from its beginning.

When to read it again: whenever the consumer's client lost a connection (a broker restart always
breaks them) and before anything it fetched since is processed, and when a consumer starts from
marks that were stored (the engine's checkpoint holds them). `Tails` is the decision (pure), the
reading (`read_marks`) and the consumer's loop (`settle`) are the edge.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

READ_BOUND_S = 5.0  # one reading of the marks; a broker that does not answer is asked again later
RETRY_S = 0.5  # between readings while the broker does not answer


def mark(record: ConsumerRecord[Any, Any]) -> str:
    """The record's offset, timestamp and a CRC of its key and value: another record at that offset
    (a new log) differs in its timestamp or bytes."""
    crc = zlib.crc32(record.value or b"", zlib.crc32((record.key or b"") + b"\0"))
    return f"{record.offset}:{record.timestamp}:{crc:08x}"


def offset_of(mark: str) -> int:
    return int(mark.split(":", 1)[0])


def last_marks(records: Iterable[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, str]:
    """The mark of each partition's last record: one CRC per partition a batch holds, not per record
    (a batch is up to 5,000 records, in offset order within a partition)."""
    last: dict[tuple[str, int], ConsumerRecord[Any, Any]] = {}
    for record in records:
        last[record.topic, record.partition] = record
    return {TopicPartition(topic, partition): mark(record) for (topic, partition), record in last.items()}


START = "-1:start"  # the tail of a partition read from its beginning since: nothing read yet


@dataclass(frozen=True)
class Verdict:
    """What one reading of the marks found."""

    replaced: list[TopicPartition] = field(default_factory=list)  # read from the beginning
    dropped: dict[TopicPartition, int] = field(default_factory=dict)  # records in hand of the new log


class Tails:
    """The mark of the last record read on each partition, and whether they need reading again.

    `suspect` holds from a doubt (`doubt`: a lost connection, a start, new assignments) until a reading
    that began after it was judged (`judge`): a reading that began before a later doubt does not
    clear it."""

    def __init__(self, marks: dict[TopicPartition, str] | None = None) -> None:
        self.marks: dict[TopicPartition, str] = dict(marks or {})
        self.losses = 1  # a consumer that starts has verified nothing
        self.verified = 0

    @property
    def suspect(self) -> bool:
        return self.losses > self.verified

    def doubt(self) -> None:
        """The positions may no longer be on the log the tails were read on: read them again."""
        self.losses += 1

    def saw(self, records: Iterable[ConsumerRecord[Any, Any]]) -> None:
        """After the records were processed: the last of each partition is its tail."""
        self.marks.update(last_marks(records))

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.marks.pop(tp, None)

    def wanted(self, assigned: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Where to read: each assigned partition's tail (one not marked, or marked START, has
        nothing to compare)."""
        return {tp: offset_of(m) for tp in assigned if (m := self.marks.get(tp)) is not None and m != START}

    def ahead(self, positions: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Partitions whose position lies past the record after their tail, and where to go back to:
        nothing between was read on this log, so the position is a commit of the old one (retried
        into the new broker after the tail was checked, or kept by a rebalance after a rewind)."""
        back = {}
        for tp, position in positions.items():
            tail = self.marks.get(tp)
            if tail is not None and position > offset_of(tail) + 1:
                back[tp] = offset_of(tail) + 1
        return back

    def rewound(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.marks[tp] = START

    def trusted(self, began: int) -> None:
        """Nothing to read again (no assigned partition has a tail): what began at `began` holds."""
        self.verified = max(self.verified, began)

    def judge(self, began: int, found: dict[TopicPartition, dict[int, str]],
              in_hand: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> Verdict:
        """`found`: per partition read, the marks of the records from its tail on, as the broker has
        them now (none at all: the log is shorter than the tail). A tail missing or another means the
        log was replaced; records in hand that the broker has at their offsets are the new log's
        (fetched from the old position: dropped, the beginning reads them), those it has not were
        fetched from the old broker before it went (kept). `began`: `losses` when the reading began."""
        replaced, dropped = [], {}
        for tp, marks in found.items():
            tail = self.marks.get(tp)
            if tail is None or marks.get(offset_of(tail)) == tail:
                continue
            replaced.append(tp)
            records = in_hand.get(tp, [])
            if records and marks.get(records[0].offset) == mark(records[0]):
                dropped[tp] = len(records)
        self.forget(replaced)
        self.trusted(began)
        return Verdict(replaced, dropped)


async def read_marks(bootstrap: str, offsets: dict[TopicPartition, int], upto: dict[TopicPartition, int],
                     timeout_s: float = READ_BOUND_S) -> dict[TopicPartition, dict[int, str]]:
    """The marks of each partition's records from `offsets[tp]` to `upto[tp]` (at least the first),
    as the broker has them now, read by a consumer of no group (the watched one's positions stay).
    Where a log ends is the high watermark of the fetch itself: tansu 0.6's ListOffsets answers the
    last batch's base offset + 1 (1 for a log of one batch of 10 records). A partition whose log
    starts after the offset (retention) is left out: nothing can be compared."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
                              max_partition_fetch_bytes=1 << 20, request_timeout_ms=int(timeout_s * 1000))
    deadline = time.monotonic() + timeout_s
    try:
        await asyncio.wait_for(reader.start(), timeout_s)
        reader.assign(list(offsets))
        starts = await asyncio.wait_for(reader.beginning_offsets(list(offsets)), timeout_s)
        found: dict[TopicPartition, dict[int, str]] = {}
        todo: dict[TopicPartition, int] = {}  # the last offset wanted
        for tp, offset in offsets.items():
            if offset >= starts.get(tp, 0):
                found[tp], todo[tp] = {}, max(offset, upto.get(tp, offset))
                reader.seek(tp, offset)
        while todo:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the marks were not read in time")
            batch = await reader.getmany(*todo, timeout_ms=int(min(left, 0.3) * 1000))
            for tp, records in batch.items():
                for record in records:
                    found[tp][record.offset] = mark(record)
            for tp, last in list(todo.items()):
                end = reader.highwater(tp)  # None until a fetch of it came back
                if (found[tp] and max(found[tp]) >= last) or (end is not None and end <= last and (
                        end <= offsets[tp] or (found[tp] and max(found[tp]) >= end - 1))):
                    del todo[tp]
                    reader.pause(tp)
        return found
    finally:
        await asyncio.wait_for(reader.stop(), timeout_s)


def watch_connections(consumer: AIOKafkaConsumer, tails: Tails) -> None:
    """Tell `tails` of every connection the consumer's client loses, before it reconnects (so before
    any record of a new broker is fetched). aiokafka has no public hook: its client's connection-close
    callback is wrapped; call before `consumer.start()` so the first connections have it too."""
    client = consumer._client
    closed = client._on_connection_closed

    def on_close(conn: Any, reason: Any) -> None:
        tails.doubt()
        closed(conn, reason)

    client._on_connection_closed = on_close


async def settle(consumer: AIOKafkaConsumer, bootstrap: str, tails: Tails,
                 batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]], what: str
                 ) -> tuple[dict[TopicPartition, list[ConsumerRecord[Any, Any]]], list[TopicPartition]]:
    """While `tails` is suspect: read the tails again before the batch is processed. Returns the batch
    to process and the partitions to read from their beginning once it is (`rewind`); a broker that
    does not answer yet gets the batch back (each partition sought to its first record) to try later."""
    began = tails.losses
    assigned = list(consumer.assignment())
    if not assigned:  # joining: nothing fetched, nothing to compare yet
        return batch, []
    offsets = tails.wanted(assigned)
    if not offsets:
        tails.trusted(began)
        return await _not_ahead(consumer, tails, batch, what), []
    upto = {tp: records[0].offset for tp, records in batch.items() if records}
    try:
        found = await read_marks(bootstrap, offsets, upto)
    except (KafkaError, OSError, TimeoutError, AssertionError) as exc:
        log.info("%s: the tails could not be read again yet (%r)", what, exc)
        for tp, records in batch.items():
            if records:
                consumer.seek(tp, records[0].offset)
        await asyncio.sleep(RETRY_S)
        return {}, []
    verdict = tails.judge(began, found, batch)
    if not verdict.replaced:
        return await _not_ahead(consumer, tails, batch, what), []
    kept = {tp: records for tp, records in batch.items() if tp not in verdict.dropped}
    unmarked = [tp for tp in assigned if tp not in offsets]  # their positions are as stale, if any
    rewind = list(dict.fromkeys([*verdict.replaced, *unmarked]))
    log.warning("%s: the broker's log was replaced (the record before the position is another: %s): "
                "%d partition(s) read from their beginning, %d record(s) of the new log in hand dropped",
                what, ", ".join(f"{tp.topic}/{tp.partition}" for tp in verdict.replaced), len(rewind),
                sum(verdict.dropped.values()))
    return kept, rewind


async def _not_ahead(consumer: AIOKafkaConsumer, tails: Tails,
                     batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]], what: str
                     ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
    """The batch less what lies past the record after a partition's tail, each such partition sought
    back there (`Tails.ahead`)."""
    positions = {}
    for tp in consumer.assignment():
        if tp in tails.marks:
            records = batch.get(tp)
            positions[tp] = records[0].offset if records else await asyncio.wait_for(consumer.position(tp),
                                                                                      READ_BOUND_S)
    back = tails.ahead(positions)
    for tp, offset in back.items():
        consumer.seek(tp, offset)
    if back:
        log.warning("%s: position past anything read on this log (a commit of the log the broker lost): "
                    "%s sought back", what, ", ".join(f"{tp.topic}/{tp.partition} to {o}" for tp, o in back.items()))
    return {tp: records for tp, records in batch.items() if tp not in back}


async def rewind(consumer: AIOKafkaConsumer, tails: Tails, partitions: Sequence[TopicPartition]) -> None:
    """After the kept records were processed: the replaced logs from their beginning, their tails
    START (the kept records were the old log's; a position a rebalance puts past it is stale)."""
    if partitions:
        await consumer.seek_to_beginning(*partitions)
        tails.rewound(partitions)
