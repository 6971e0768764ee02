"""RealTimeProcessor: the Kafka edge around the windowing core (processing/windows.py).

A consumer group (`analytics-engine`, apart from the workers' `analytics` group) over the five
topics. Per fetched batch: parse (malformed -> dead-letter topic with the reason), fill missing
artists from the catalogue, ingest, then emit what the watermark closed. Closed windows are written
(InfluxDB or its buffer) *before* the checkpoint that records them, and the checkpoint holds the
offsets of exactly the events its panes contain, so a crash anywhere neither loses nor double counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from psycopg_pool import AsyncConnectionPool

from spotctl_sandbox.analytics.core.state_manager import StateManager, tp_key
from spotctl_sandbox.analytics.processing.events import (
    DEAD_LETTER_TOPIC,
    TOPICS,
    Malformed,
    Source,
    StreamEvent,
    parse,
)
from spotctl_sandbox.analytics.processing.windows import StreamWindows, Verdict, WindowResult
from spotctl_sandbox.analytics.storage.events import StoredEvent
from spotctl_sandbox.common import bounded
from spotctl_sandbox.events import kafka_tails, kafka_watch

log = logging.getLogger(__name__)

Sink = Callable[[list[WindowResult]], Awaitable[None]]
EventSink = Callable[[list[StoredEvent]], Awaitable[None]]
DeadLetterSink = Callable[[list[dict[str, Any]]], Awaitable[None]]


WATCH_S = 2.0  # how often the broker is checked for a lost log
COMMIT_BOUND_S = 5.0


@dataclass
class ProcessorStats:
    counted: int = 0
    late: int = 0
    duplicate: int = 0
    malformed: int = 0
    batches: int = 0
    checkpoints: int = 0
    last_event_ts: float | None = None
    state: str = "starting"
    detail: str = ""
    assigned: list[str] = field(default_factory=list)


class SongArtists:
    """song id -> artist id from the catalogue, looked up once per unknown song (misses remembered)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.known: dict[str, str | None] = {}

    async def fill(self, song_ids: set[str]) -> None:
        missing = [s for s in song_ids if s not in self.known]
        if not missing:
            return
        numeric = [int(s) for s in missing if s.isdigit() and len(s) < 19]
        found: dict[str, str] = {}
        if numeric:
            async with self.pool.connection() as conn:
                cur = await conn.execute("SELECT id, artist_id FROM songs WHERE id = ANY(%s)", (numeric,))
                found = {str(i): str(a) for i, a in await cur.fetchall()}
        for song in missing:
            self.known[song] = found.get(song)


def dead_letter(record: ConsumerRecord, reason: str) -> dict[str, Any]:
    value = record.value or b""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset, "reason": reason,
            "value": value.decode("utf-8", "replace")[:10_000], "ts": time.time()}


class RealTimeProcessor:
    def __init__(self, *, bootstrap: str, group: str, mode: str, windows: StreamWindows, state: StateManager,
                 artists: SongArtists, sink: Sink, live: Sink, events: EventSink, dead_letters: DeadLetterSink,
                 store_counted: bool, checkpoint_interval_s: float = 5.0, live_interval_s: float = 1.0,
                 topics: dict[str, Source] | None = None) -> None:
        """`topics` maps topic names to what they carry (default: the five topics by their names)."""
        self.bootstrap, self.group, self.mode = bootstrap, group, mode
        self.sources = topics or {t: Source(t) for t in TOPICS}
        self.topics = tuple(self.sources)
        self.windows, self.state, self.artists = windows, state, artists
        self.sink, self.live, self.events, self.dead_letters = sink, live, events, dead_letters
        self.store_counted = store_counted
        self.checkpoint_interval_s, self.live_interval_s = checkpoint_interval_s, live_interval_s
        self.stats = ProcessorStats()
        self.positions: dict[str, int] = {}     # next offset per "topic:partition", as counted so far
        self.checkpointed: dict[str, int] = {}
        self.tails = kafka_tails.Tails()  # the last record counted per partition: is the log still the same?
        self.lost_log = kafka_watch.LostLog()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        checkpoint = await self.state.load()
        if checkpoint is not None:
            self.windows.restore(checkpoint.meta, checkpoint.panes, time.time())
            self.positions = dict(checkpoint.offsets)
            self.checkpointed = dict(checkpoint.offsets)
            self.tails = kafka_tails.Tails({_tp(key): m for key, m in checkpoint.tails.items()})
            log.info("analytics: resumed from checkpoint (%d panes, offsets %s)", len(checkpoint.panes),
                     checkpoint.offsets)
        self._task = asyncio.create_task(self._run(), name="analytics-realtime")

    async def stop(self) -> None:
        """Finish the batch in hand, checkpoint, leave the group."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=20)
            except TimeoutError:
                self._task.cancel()
                log.warning("analytics: processor did not stop in 20 s; its last checkpoint stands")
            except Exception:
                log.exception("analytics: processor ended with an error")
        self.stats.state = "stopped"

    async def _run(self) -> None:
        while not self._stop.is_set():
            watch: asyncio.Task[None] | None = None
            try:
                self._consumer = await self._connect()
                watch = asyncio.create_task(self._watch(self._consumer), name="analytics-kafka-watch")
                await self._loop(self._consumer)
            except (KafkaError, OSError) as exc:
                self.stats.state, self.stats.detail = "waiting", f"kafka: {exc!r}"
                log.warning("analytics: Kafka unavailable (%r); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 2.0)
            finally:
                if watch is not None:
                    watch.cancel()
                if self._consumer is not None:  # bounded: a stop that hangs would stop the retries
                    await bounded.within(self._consumer.stop(), 10, "analytics: consumer stop")
                    self._consumer = None

    async def _connect(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, client_id="spotctl-analytics-engine",
            enable_auto_commit=False, auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=32 << 20, request_timeout_ms=15000)
        kafka_tails.watch_connections(consumer, self.tails)
        self.tails.doubt()  # a new consumer: the positions it starts from are to be checked
        await kafka_watch.start(consumer, "analytics")
        if self.mode == "assign":
            parts = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(parts)
            await self._seek(consumer, parts)
        else:
            consumer.subscribe(list(self.topics), listener=_Rebalance(self, consumer))
        self.stats.state, self.stats.detail = "running", f"{self.mode} on {', '.join(self.topics)}"
        return consumer

    async def _seek(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> None:
        """Resume each partition where the checkpoint says; new partitions from their beginning."""
        fresh = []
        for tp in parts:
            offset = self.positions.get(tp_key(tp.topic, tp.partition))
            if offset is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, offset)
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        self.windows.track([tp_key(tp.topic, tp.partition) for tp in parts], time.time())
        self.stats.assigned = sorted(tp_key(tp.topic, tp.partition) for tp in consumer.assignment())

    async def _watch(self, consumer: AIOKafkaConsumer) -> None:
        """Every WATCH_S: after the broker lost its log (tansu restarted), recreate the lost topics
        and read every assigned partition from its beginning; the checkpoint's offsets are the old log's."""
        seen = {t: len(consumer.partitions_for_topic(t) or ()) for t in self.topics}
        partitions = {t: n or 1 for t, n in seen.items()}
        known = {t for t, n in seen.items() if n}  # a topic missing that existed at connect was lost
        self.lost_log = kafka_watch.LostLog()
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                await self._heal_lost_log(consumer, partitions, known, self.lost_log)
            except (KafkaError, OSError, AssertionError) as exc:  # the watch outlives what it watches
                log.warning("analytics: kafka watch: %r", exc)

    async def _heal_lost_log(self, consumer: AIOKafkaConsumer, partitions: dict[str, int], known: set[str],
                             lost_log: kafka_watch.LostLog) -> None:
        missing: list[str] = []
        with contextlib.suppress(KafkaError, TimeoutError, OSError):
            missing = [t for t in await kafka_watch.ensure_topics(self.bootstrap, self.topics, partitions)
                       if t in known]
        gone = lost_log.gone(await kafka_watch.backlog(consumer))
        assigned = list(consumer.assignment())
        if (gone or missing) and assigned:
            log.warning("analytics: the broker lost its log: %d partition(s) read from their beginning",
                        len(assigned))
            await self._rewind(consumer, assigned)

    async def _rewind(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> None:
        await kafka_tails.rewind(consumer, self.tails, parts)
        self.lost_log.forget(parts)  # the ends seen were the old log's: no second loss told from them
        for tp in parts:
            self.positions[tp_key(tp.topic, tp.partition)] = 0

    # -- the loop --------------------------------------------------------------------------------

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        last_checkpoint = last_live = time.monotonic()
        while not self._stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)  # bounds the lag a batch adds
            rewind: list[TopicPartition] = []
            if self.tails.suspect:  # a lost connection, a new consumer or assignment: the log the same?
                batch, rewind = await kafka_tails.settle(consumer, self.bootstrap, self.tails, batch, "analytics")
            records = [r for part in batch.values() for r in part]
            if records:
                await self.process(records)
            if rewind:
                await self._rewind(consumer, rewind)
            now = time.time()
            closed = self.windows.advance(now)
            if closed:
                await self._until_done("writing closed windows", self.sink, closed)
            tick = time.monotonic()
            if tick - last_live >= self.live_interval_s:
                last_live = tick
                try:
                    await self.live(self.windows.open_windows())
                except Exception as exc:  # live views are best effort; the final windows are not
                    log.warning("analytics: live update failed: %s", exc)
            if closed or tick - last_checkpoint >= self.checkpoint_interval_s:
                last_checkpoint = tick
                await self.checkpoint(consumer)
        await self.checkpoint(consumer)

    async def process(self, records: list[ConsumerRecord]) -> None:
        """Parse, count and record one fetched batch (its dead letters and stored events included).

        Records of one partition are in offset order; per-partition work (its key, its position) is
        done once per run of records, not per record: this loop is the processor's hot path.
        """
        now = time.time()
        parsed: list[tuple[ConsumerRecord, StreamEvent, str]] = []
        dead: list[dict[str, Any]] = []
        sources, key, last = self.sources, "", (None, -1)
        ends: dict[str, int] = {}
        for record in records:
            if (record.topic, record.partition) != last:
                last = (record.topic, record.partition)
                key = tp_key(record.topic, record.partition)
            try:
                parsed.append((record, parse(record.topic, record.value, record.timestamp,
                                             sources.get(record.topic)), key))
            except Malformed as exc:
                dead.append(dead_letter(record, exc.reason))
            ends[key] = record.offset + 1
        unknown = {e.song_id for _, e, _ in parsed if e.artist_id is None and e.song_id is not None}
        if unknown:
            try:
                await self.artists.fill(unknown)
            except Exception as exc:  # plays still count per song; per artist where the catalogue is known
                log.warning("analytics: catalogue lookup failed (%s); artists unknown for this batch", exc)
        stored: list[StoredEvent] = []
        windows, known, stats, store_counted = self.windows, self.artists.known, self.stats, self.store_counted
        counted = 0
        for record, ev, part in parsed:
            if ev.artist_id is None and ev.song_id is not None and known.get(ev.song_id):
                ev = dataclasses.replace(ev, artist_id=known[ev.song_id])
            verdict = windows.ingest(ev, now, part)
            if verdict is Verdict.COUNTED:
                counted += 1
                if store_counted:
                    stored.append(_stored(ev, record, "counted"))
            else:
                setattr(stats, verdict.value, getattr(stats, verdict.value) + 1)
                stored.append(_stored(ev, record, verdict.value))
        self.positions.update(ends)  # the state now holds these records: a checkpoint may record them
        self.tails.saw(records)
        stats.counted += counted
        stats.malformed += len(dead)
        stats.batches += 1
        if parsed:
            stats.last_event_ts = windows.max_ts
        if dead:
            await self._until_done("dead-letter topic", self.dead_letters, dead)
            stored += [StoredEvent(f"{d['topic']}:{d['partition']}:{d['offset']}", "dead_letter", "malformed",
                                   "default", d["ts"], d) for d in dead]
        if stored:
            await self._until_done("event store", self.events, stored)

    async def checkpoint(self, consumer: AIOKafkaConsumer | None = None) -> None:
        tails = {tp_key(tp.topic, tp.partition): m for tp, m in self.tails.marks.items()}
        await self._until_done("checkpoint to postgres", self.state.save, self.windows, dict(self.positions), tails)
        self.checkpointed = dict(self.positions)
        self.stats.checkpoints += 1
        if consumer is None or self.mode != "group":
            return
        assigned, offsets = consumer.assignment(), {}
        for key, offset in self.positions.items():
            topic, partition = key.rsplit(":", 1)
            tp = TopicPartition(topic, int(partition))
            if tp in assigned:
                offsets[tp] = offset
        if offsets:  # Kafka's copy is for `spotctl kafka groups`; ours is the truth. Bounded: aiokafka
            # retries a commit to a topic the broker lost for as long as it takes, stalling the stream
            await bounded.within(consumer.commit(offsets), COMMIT_BOUND_S, "analytics: offset commit")

    async def _until_done(self, what: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Retry a write the checkpoint depends on until it succeeds: the stream waits, nothing is skipped."""
        delay = 0.5
        while True:
            try:
                result = await fn(*args)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stop.is_set():
                    raise
                if self.stats.state != "waiting":
                    log.warning("analytics: %s failed (%s); the stream waits and retries", what, exc)
                self.stats.state, self.stats.detail = "waiting", f"{what}: {exc}"
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self.stats.state == "waiting":
                self.stats.state, self.stats.detail = "running", f"{self.mode} on {', '.join(self.topics)}"
            return result


def _tp(key: str) -> TopicPartition:
    topic, partition = key.rsplit(":", 1)
    return TopicPartition(topic, int(partition))


def _stored(ev: StreamEvent, record: ConsumerRecord, status: str) -> StoredEvent:
    body: dict[str, Any] = {"user_id": ev.user_id, "song_id": ev.song_id, "artist_id": ev.artist_id,
                            "error": ev.error, "partition": record.partition, "offset": record.offset}
    if ev.hub is not None:
        body.update(dataclasses.asdict(ev.hub))
    return StoredEvent(ev.event_id, ev.source.value, status, ev.tenant, ev.ts,
                       {k: v for k, v in body.items() if v is not None})


class _Rebalance(ConsumerRebalanceListener):
    """Checkpoint before partitions go; seek to the checkpoint when they come."""

    def __init__(self, processor: RealTimeProcessor, consumer: AIOKafkaConsumer) -> None:
        self.processor, self.consumer = processor, consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self.processor.checkpoint()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.processor._seek(self.consumer, list(assigned))
        self.processor.tails.doubt()  # positions of the checkpoint: on the log its tails were read on?
        log.info("analytics: assigned %s", self.processor.stats.assigned)


__all__ = ["DEAD_LETTER_TOPIC", "ProcessorStats", "RealTimeProcessor", "SongArtists"]
