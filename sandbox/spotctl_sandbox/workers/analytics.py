"""Kafka consumer group `analytics`: play counts, user activity and history, each event applied once.

An event's id (its `event_id`, or a hash of its bytes when the producer sent none) is inserted into
analytics_processed_events in the same transaction as its effects, so a redelivered event (after a
rebalance or a crash before the offset commit) changes nothing.  Offsets are committed only after
the batch's transactions, and a store outage retries the same batch: nothing consumed is lost.

A watchdog heals the consumer after a broker restart (topics recreated, a fresh consumer that rejoins
the group and resumes from the committed offsets; a position beyond the end of the log the broker
lost goes back to its beginning) and reports `stalled` while records wait and none gets processed.
Whether the log is still the one read is also told from the last record applied per partition
(`kafka_tails`), read again after any lost connection and at each start: its mark is written with
the batch's effects (analytics_kafka_tails), as the broker may have taken commits of the old log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from spotctl_sandbox import contract as names
from spotctl_sandbox.common import bounded, logs
from spotctl_sandbox.events import kafka_tails, kafka_watch
from spotctl_sandbox.events.topics import Topic
from spotctl_sandbox.workers import metrics
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.dlq import MalformedMessage
from spotctl_sandbox.workers.messages import PlayEvent, epoch_field, json_object
from spotctl_sandbox.workers.retrying import transient_errors, until_ready
from spotctl_sandbox.workers.state import WorkerState

log = logging.getLogger(__name__)

WATCH_S = 2.0  # watchdog period
HEAL_AFTER_S = 10.0  # Kafka errors (or a stall) this long in a row: rebuild the consumer
START_BOUND_S = 30.0  # a consumer start (group join) that takes longer is given up and tried again
STOP_BOUND_S = 10.0  # an old consumer that takes longer to stop is left behind

MARK_SQL = "INSERT INTO analytics_processed_events (event_id, topic) VALUES (%s, %s) ON CONFLICT DO NOTHING"
PLAY_SQL = "UPDATE songs SET play_count = play_count + 1 WHERE id = %s"
# Also written by the `update_recently_played` job for the same play: the unique key makes it one row.
TAIL_SQL = """
INSERT INTO analytics_kafka_tails (grp, topic, partition, mark) VALUES (%s, %s, %s, %s)
ON CONFLICT (grp, topic, partition) DO UPDATE SET mark = EXCLUDED.mark
"""
TAILS_SQL = "SELECT topic, partition, mark FROM analytics_kafka_tails WHERE grp = %s"
HISTORY_SQL = """
INSERT INTO listening_history (user_id, song_id, played_at)
SELECT u.id, s.id, %(at)s FROM users u, songs s WHERE u.id = %(user)s AND s.id = %(song)s
ON CONFLICT DO NOTHING
"""
ACTIVITY_SQL = """
INSERT INTO analytics_user_activity (user_id, plays, searches, playlists_created, last_event_at)
VALUES (%(user)s, %(plays)s, %(searches)s, %(playlists)s, %(at)s)
ON CONFLICT (user_id) DO UPDATE SET
    plays = analytics_user_activity.plays + EXCLUDED.plays,
    searches = analytics_user_activity.searches + EXCLUDED.searches,
    playlists_created = analytics_user_activity.playlists_created + EXCLUDED.playlists_created,
    last_event_at = GREATEST(analytics_user_activity.last_event_at, EXCLUDED.last_event_at)
"""


def event_id(record: ConsumerRecord) -> str:
    """The producer's id, else a content hash (stable across broker restarts, unlike offsets)."""
    value = record.value or b""
    try:
        data = json_object(value)
    except MalformedMessage:
        data = {}
    given = data.get("event_id")
    return str(given) if given else "sha1:" + hashlib.sha1(record.topic.encode() + b"\0" + value).hexdigest()


class Analytics:
    name = "analytics"

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._partitions: dict[str, int] = {}  # as last seen: how to recreate a lost topic
        self._kafka_trouble_since: float | None = None  # first of an unbroken run of Kafka errors
        self._lost_log = kafka_watch.LostLog()
        self._log_lost = False  # the next consumer reads from the beginning, not the committed offsets
        self._tails = kafka_tails.Tails()  # the last record applied per partition, as stored
        self.heals = 0
        deps.health.add(self.name)

    @property
    def _bootstrap(self) -> str:
        return self.deps.config.settings.kafka_bootstrap_servers

    async def run(self) -> None:
        # the schema worker applies analytics_kafka_tails beside this start: wait for it as for an outage
        self._consumer = await until_ready(self.deps.health, self.name, "kafka", self._start_consumer,
                                           also=(psycopg.errors.UndefinedTable,))
        self._running()
        self._task = asyncio.create_task(self._loop(), name="analytics")
        self._watch = asyncio.create_task(self._watchdog(), name="analytics-watchdog")

    def _running(self, detail: str = "") -> None:
        self.deps.health.set(self.name, WorkerState.RUNNING, detail or
                             f"group {names.ANALYTICS_GROUP} on {', '.join(names.ANALYTICS_TOPICS)}")

    async def _start_consumer(self) -> AIOKafkaConsumer:
        # Subscribing to topics that do not exist works, but a broker that lost them never brings the
        # group back by itself: make them exist first, as the producers' auto-creation would.
        await kafka_watch.ensure_topics(self._bootstrap, names.ANALYTICS_TOPICS, self._partitions)
        async with self.deps.pg.connection() as conn:  # the tails stored with what was applied, maybe by
            rows = await (await conn.execute(TAILS_SQL, (names.ANALYTICS_GROUP,))).fetchall()  # another member
        self._tails.marks = {TopicPartition(t, p): m for t, p, m in rows}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=names.ANALYTICS_GROUP, client_id="spotctl-analytics", enable_auto_commit=False,
            auto_offset_reset="earliest", request_timeout_ms=15000,
            # tansu holds a join for half the session timeout (5 s at the default 10 s; 3 s here), and
            # a member left over from before a broker restart for the whole of it
            session_timeout_ms=6000, heartbeat_interval_ms=1000,
        )
        kafka_tails.watch_connections(consumer, self._tails)
        self._tails.doubt()
        await kafka_watch.start(consumer, "analytics", START_BOUND_S, STOP_BOUND_S)
        consumer.subscribe(list(names.ANALYTICS_TOPICS),
                           listener=kafka_watch.FromTheStart(consumer, pending=self._log_lost, tails=self._tails))
        self._log_lost = False
        for topic in names.ANALYTICS_TOPICS:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                self._partitions[topic] = len(parts)
        return consumer

    async def stop(self) -> None:
        """Finish the batch in hand, commit it, leave the group."""
        self.deps.health.set(self.name, WorkerState.STOPPING)
        self._stop.set()
        if self._watch is not None:
            self._watch.cancel()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=15)
            except TimeoutError:
                log.warning("analytics: batch did not finish in 15 s; its offsets stay uncommitted")
        if self._consumer is not None:
            await bounded.within(self._consumer.stop(), STOP_BOUND_S, "analytics: consumer stop")
        self.deps.health.set(self.name, WorkerState.STOPPED)

    def _kafka_error(self, exc: BaseException) -> None:
        if self._kafka_trouble_since is None:
            self._kafka_trouble_since = time.monotonic()
        log.warning("analytics: kafka: %r", exc)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            consumer = self._consumer
            assert consumer is not None
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
            except transient_errors() as exc:
                self.deps.health.set(self.name, WorkerState.WAITING, f"kafka: {exc!r}")
                self._kafka_error(exc)
                await asyncio.sleep(1)
                continue
            except KafkaError as exc:
                self._kafka_error(exc)
                await asyncio.sleep(1)
                continue
            rewind: list[TopicPartition] = []
            if self._tails.suspect:  # a lost connection, a new consumer or assignment: the log the same?
                batch, rewind = await kafka_tails.settle(consumer, self._bootstrap, self._tails, batch, "analytics")
            records = [r for part in batch.values() for r in part]
            if not records:
                await self._rewind(consumer, rewind)
                continue
            retrying = AsyncRetrying(retry=retry_if_exception_type(transient_errors()),
                                     wait=wait_exponential_jitter(initial=0.5, max=10), reraise=True,
                                     before_sleep=lambda s: self.deps.health.set(
                                         self.name, WorkerState.WAITING, f"postgres: {s.outcome.exception()!r}"
                                         if s.outcome else "postgres down"))
            applied: int = await retrying(self._apply, records)
            self._tails.saw(records)
            await self._rewind(consumer, rewind)
            try:
                await consumer.commit()  # if this fails the events come again and are skipped as seen
                self._kafka_trouble_since = None
            except (KafkaError, *transient_errors()) as exc:
                self._kafka_error(exc)
            self.deps.health.count(self.name, processed=applied)
            self.deps.health.progress(self.name)
            if self.deps.health.state(self.name) is WorkerState.WAITING:
                self._running()

    async def _watchdog(self) -> None:
        """Judge progress every WATCH_S; rebuild the consumer when Kafka has failed it for HEAL_AFTER_S."""
        while not self._stop.is_set():
            await asyncio.sleep(WATCH_S)
            try:
                await self._check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watchdog must outlive whatever it watches
                log.warning("analytics: watchdog: %r", exc)

    async def _check(self) -> None:
        consumer = self._consumer
        if consumer is None or self._task is None:
            return
        if self._task.done() and not self._stop.is_set():
            await self._heal("the consumer loop ended")  # nothing else would ever restart it
            return
        lost: list[str] = []
        with contextlib.suppress(KafkaError, TimeoutError, OSError):
            lost = await kafka_watch.missing_topics(self._bootstrap, names.ANALYTICS_TOPICS)
        now = await kafka_watch.backlog(consumer)
        gone = self._lost_log.gone(now)
        if gone and not lost:
            # Neither the positions nor the group's committed offsets can be trusted after a loss, and
            # rebuilding would resume from the latter: every partition from its beginning (events
            # applied before are skipped by id).
            assigned = list(consumer.assignment())
            log.warning("analytics: the broker lost its log (%s): %d partition(s) read from their beginning",
                        ", ".join(f"{tp.topic}/{tp.partition}" for tp in gone), len(assigned))
            await self._rewind(consumer, assigned)
            return
        waiting = now.waiting
        if lost:
            self._log_lost = True  # and the group's offsets with it, or stale ones retried into the new broker
            why = f"topics lost by the broker: {', '.join(lost)}"
        elif self._kafka_trouble_since is not None and time.monotonic() - self._kafka_trouble_since > HEAL_AFTER_S:
            why = f"kafka errors for more than {HEAL_AFTER_S:.0f}s"
        else:
            why = ""
        self.deps.health.observe_backlog(self.name, None if why else waiting, why=why)
        if why:
            await self._heal(why)

    async def _heal(self, why: str) -> None:
        """A fresh consumer (topics recreated first): it rejoins the group and resumes from the
        committed offsets; redelivered events are skipped as seen."""
        log.warning("analytics: rebuilding the Kafka consumer (%s)", why)
        self.heals += 1
        old, task = self._consumer, self._task
        if task is not None:
            task.cancel()
            await bounded.within(task, STOP_BOUND_S, "analytics: the old consumer loop")
        if old is not None:  # never an unbounded wait here: a heal that hangs heals nothing, ever
            await bounded.within(old.stop(), STOP_BOUND_S, "analytics: the old consumer's stop")
        # a broker that has just restarted answers with Kafka errors of every kind for a while
        self._consumer = await until_ready(self.deps.health, self.name, "kafka", self._start_consumer,
                                           also=(KafkaError, psycopg.errors.UndefinedTable))
        self._kafka_trouble_since = None
        self._running(f"consumer rebuilt after: {why}")
        self._task = asyncio.create_task(self._loop(), name="analytics")

    async def _rewind(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> None:
        """Read `parts` from their beginning: their tails (in memory and stored) start over, and the
        ends seen were the old log's."""
        if not parts:
            return
        await kafka_tails.rewind(consumer, self._tails, parts)
        self._lost_log.forget(parts)
        try:  # if PostgreSQL is down, a consumer started later finds the old tails: a mismatch, read again
            async with self.deps.pg.connection() as conn:
                for tp in parts:
                    await conn.execute(TAIL_SQL, (names.ANALYTICS_GROUP, tp.topic, tp.partition, kafka_tails.START))
        except transient_errors() as exc:
            log.warning("analytics: the rewound tails were not stored (%r)", exc)

    async def _apply(self, records: list[ConsumerRecord]) -> int:
        """Apply every new event in one transaction, with the mark of each partition's last record;
        return how many were new."""
        applied = 0
        tails = kafka_tails.last_marks(records)
        async with self.deps.pg.connection() as conn, conn.transaction():
            for tp, tail in tails.items():
                await conn.execute(TAIL_SQL, (names.ANALYTICS_GROUP, tp.topic, tp.partition, tail))
            for record in records:
                try:
                    effects = Effects.of(record)
                except MalformedMessage as exc:
                    log.warning("analytics: skipping malformed %s event at %s/%s: %s", record.topic,
                                record.partition, record.offset, exc)
                    self.deps.health.count(self.name, dead_lettered=1)
                    metrics.EVENTS.labels(record.topic, "malformed").inc()
                    continue
                cur = await conn.execute(MARK_SQL, (event_id(record), record.topic))
                if cur.rowcount != 1:
                    metrics.EVENTS.labels(record.topic, "duplicate").inc()
                    continue  # seen before
                await effects.apply(conn)
                metrics.EVENTS.labels(record.topic, "applied").inc()
                applied += 1
                _trace_line(record)
        return applied


def _trace_line(record: ConsumerRecord) -> None:
    """One line per applied event that belongs to a traced request (`spotctl trace`)."""
    header = dict(record.headers or ()).get(logs.FIELD)
    cid = logs.valid(header.decode()) if isinstance(header, bytes) else None
    if cid is None:
        try:
            cid = logs.of(json_object(record.value or b""))
        except MalformedMessage:
            return
    if cid is not None:
        with logs.bound(cid):
            log.info("analytics: applied %s event %s (%s/%s)", record.topic, event_id(record), record.partition,
                     record.offset)


@dataclass(frozen=True)
class Effects:
    """What one event changes: a song's play count, the user's counters and listening history."""

    user_id: str | None
    song_id: str | None  # set for a play
    at: dt.datetime
    searches: int = 0
    playlists: int = 0

    @classmethod
    def of(cls, record: ConsumerRecord) -> Effects:
        data = json_object(record.value or b"")
        ts = epoch_field(data, "ts")
        at = dt.datetime.fromtimestamp(ts if ts is not None else record.timestamp / 1000, dt.UTC)
        if record.topic == Topic.SONG_PLAYED:
            play = PlayEvent.parse(record.value or b"")
            # the same conversion as the BullMQ job's, so both write the very same history row
            return cls(play.user_id, play.song_id, dt.datetime.fromtimestamp(play.ts, dt.UTC))
        user = data.get("user_id")
        if record.topic == Topic.SEARCH_PERFORMED:
            return cls(None if user is None else str(user), None, at, searches=1)
        return cls(None if user is None else str(user), None, at, playlists=1)

    async def apply(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.song_id is not None and self.song_id.isdigit():
            await conn.execute(PLAY_SQL, (int(self.song_id),))
            if self.user_id is not None and self.user_id.isdigit():
                await conn.execute(HISTORY_SQL, {"user": int(self.user_id), "song": int(self.song_id),
                                                 "at": self.at})
        if self.user_id is not None:  # an anonymous search only counts in the daily report
            await conn.execute(ACTIVITY_SQL, {"user": self.user_id, "plays": int(self.song_id is not None),
                                              "searches": self.searches, "playlists": self.playlists,
                                              "at": self.at})
