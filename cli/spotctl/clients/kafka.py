"""Kafka (kafka-python): topics with offsets, group lag, tail, produce, offset resets, purge.

`spotctl kafka`, `spotctl purge topic`, the TUI's topic table and the guide's kafka checks all read
through here, so they agree on what a partition holds: the log end is probed by reading the last
record (tansu reports the end of a multi-record batch as its base offset + 1).

Partitions are assigned by hand (no consumer group): nothing is committed, nobody is rebalanced, and
reads start at once instead of waiting ~23 s for a group assignment on the local broker. The guide's
watch on one topic's new records is kafka_watch.py, reading the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spotctl.clients.reach import require
from spotctl.errors import ServiceDown, SpotctlError
from spotctl.inspect.kafka_view import (
    Partition,
    Reset,
    TailPlan,
    lag_rows,
    record_view,
    reset_targets,
    stop_consumers_hint,
)

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

KEY = "KAFKA_BOOTSTRAP_SERVERS"
BACKLOG_BUDGET_S = 20.0


@dataclass(frozen=True)
class Extent:
    """What a topic holds now: its partitions and their earliest/log-end offsets."""

    topic: str
    partitions: list[TopicPartition]
    begin: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    @property
    def records(self) -> int:
        return sum(self.end[tp] - self.begin[tp] for tp in self.partitions)


class KafkaClient:
    """An admin client and an unassigned consumer, opened on first use, both closed by `close()`.

    `warnings` collects what the caller should tell the user (a group kafka-python cannot describe,
    a backlog not read to its end) without this layer printing anything.
    """

    def __init__(self, servers: str) -> None:
        from spotctl.endpoints import port_open

        self.servers = require(KEY, servers)
        if not any(port_open(s.strip(), 9092, 1.0) for s in self.servers.split(",")):
            # kafka-python would otherwise retry for 30 s before failing
            raise ServiceDown("kafka", self.servers, "connection refused")
        logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its retries are noise; failures are raised
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None
        self.warnings: list[str] = []

    def __enter__(self) -> KafkaClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self._consumer is not None:
            self._consumer.close()

    @contextmanager
    def calls(self) -> Iterator[None]:
        import kafka.errors as ke

        try:
            yield
        except ke.KafkaConnectionError as exc:
            raise ServiceDown("kafka", self.servers, str(exc) or type(exc).__name__) from None
        except ke.KafkaError as exc:
            raise SpotctlError(f"kafka: {exc}") from None

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            from kafka import KafkaAdminClient

            class Admin(KafkaAdminClient):  # type: ignore[misc]  # kafka-python ships no types
                def _process_acl_operations(self, obj: dict[str, Any]) -> dict[str, Any]:
                    # kafka-python 3.0 always decodes "authorized operations"; tansu answers with codes it
                    # does not know (ValueError). We never show them, so drop them instead of failing.
                    obj.pop("authorized_operations", None)
                    return obj

            with self.calls():
                self._admin = Admin(bootstrap_servers=self.servers, client_id="spotctl", bootstrap_timeout_ms=5000,
                                    request_timeout_ms=10000)
        return self._admin

    @property
    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = new_consumer(self.servers)
        return self._consumer

    # -- reading what is there ------------------------------------------------------------------------

    def partitions(self, topic: str) -> list[TopicPartition]:
        from kafka import TopicPartition

        with self.calls():
            parts = self.consumer.partitions_for_topic(topic)
        if not parts:
            raise SpotctlError(f"no topic {topic!r}", hint="list topics with `spotctl kafka topics`")
        return [TopicPartition(topic, p) for p in sorted(parts)]

    def offsets(self, tps: Sequence[TopicPartition]) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        """Earliest and log-end offsets, the end checked by reading the last record of each partition.

        tansu reports the end of a partition whose last write was a multi-record batch as the batch's
        base offset + 1; fetching from there returns the whole batch, whose last offset + 1 is the real
        end. Against Apache Kafka the probe just confirms the reported end.
        """
        consumer = self.consumer
        with self.calls():
            begin, end = consumer.beginning_offsets(list(tps)), consumer.end_offsets(list(tps))
            probe = [tp for tp in tps if end[tp] > begin[tp]]
            if probe:
                consumer.assign(probe)
                for tp in probe:
                    consumer.seek(tp, end[tp] - 1)
                pending, deadline = set(probe), time.monotonic() + 3
                while pending and time.monotonic() < deadline:
                    for tp, msgs in consumer.poll(timeout_ms=200).items():
                        if msgs:
                            end[tp] = max(end[tp], msgs[-1].offset + 1)
                            pending.discard(tp)
                consumer.assign([])
        return begin, end

    def extent(self, topic: str) -> Extent:
        tps = self.partitions(topic)
        begin, end = self.offsets(tps)
        return Extent(topic, tps, begin, end)

    def topics(self, internal: bool = False) -> list[dict[str, Any]]:
        """Topics with their partition count, record count and earliest/latest offset per partition."""
        with self.calls():
            names = sorted(t for t in self.admin.list_topics() if internal or not t.startswith("__"))
        tps = [tp for t in names for tp in self.partitions(t)]
        begin, end = self.offsets(tps)
        topics = []
        for name in names:
            parts = [{"partition": tp.partition, "earliest": begin[tp], "latest": end[tp]}
                     for tp in tps if tp.topic == name]
            topics.append({"topic": name, "partitions": len(parts),
                           "messages": sum(p["latest"] - p["earliest"] for p in parts), "offsets": parts})
        return topics

    # -- consumer groups ------------------------------------------------------------------------------

    def group_ids(self) -> list[str]:
        with self.calls():
            return sorted(g["group_id"] for g in self.admin.list_groups())

    def describe_group(self, group: str) -> dict[str, Any]:
        """State and members; a broker reply kafka-python cannot read gives state 'unknown', not a crash."""
        import kafka.errors as ke

        try:
            desc = self.admin.describe_groups([group]).get(group, {})
        except (ke.KafkaError, ValueError) as exc:
            self.warnings.append(f"could not describe group {group} ({exc}); members are not shown")
            return {"state": "unknown", "members": None}
        return {"state": desc.get("group_state", "unknown"),
                "members": [{"member_id": m.get("member_id"), "client_id": m.get("client_id"),
                             "host": m.get("client_host")} for m in desc.get("members", [])]}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        with self.calls():
            offsets = self.admin.list_group_offsets({group: None}).get(group, {})
        return {tp: om.offset for tp, om in offsets.items() if om is not None and om.offset >= 0}

    def groups(self, group: str | None = None) -> list[dict[str, Any]]:
        """Consumer groups: state, members, and lag per partition (log end minus committed offset)."""
        ids = self.group_ids()
        if group is not None:
            if group not in ids:
                raise SpotctlError(f"no consumer group {group!r}", hint="list them with `spotctl kafka groups`")
            ids = [group]
        committed = {gid: self.committed(gid) for gid in ids}
        _, end = self.offsets(sorted({tp for c in committed.values() for tp in c}))
        ends = {(tp.topic, tp.partition): o for tp, o in end.items()}
        result = []
        for gid in ids:
            rows = lag_rows({(tp.topic, tp.partition): o for tp, o in committed[gid].items()}, ends)
            result.append({"group": gid, **self.describe_group(gid), "partitions": rows,
                           "total_lag": sum(r["lag"] or 0 for r in rows)})
        return result

    def reset_plan(self, group: str, topics: Sequence[str], mode: Reset,
                   value: int | None) -> dict[TopicPartition, tuple[int | None, int]]:
        """Per partition (committed now, target): refused while the group has active members."""
        committed = self.committed(group)
        tps = [tp for t in topics for tp in self.partitions(t)] if topics else list(committed)
        if not tps:
            raise SpotctlError(f"group {group!r} has no committed offsets", hint="name the topics with --topic")
        members = self.describe_group(group)["members"]
        if members:
            raise SpotctlError(f"group {group!r} has {len(members)} active member(s): its offsets cannot move now",
                               hint=stop_consumers_hint(group, topics))
        begin, end = self.offsets(tps)
        targets = reset_targets(mode, value, {tp: committed.get(tp) for tp in tps}, begin, end)
        return {tp: (committed.get(tp), targets[tp]) for tp in sorted(tps)}

    def groups_on(self, topic: str) -> dict[str, dict[TopicPartition, int]]:
        """Every group's committed offsets on `topic` (groups without any there left out)."""
        found = {}
        for gid in self.group_ids():
            mine = {tp: o for tp, o in self.committed(gid).items() if tp.topic == topic}
            if mine:
                found[gid] = mine
        return found

    def rewind(self, groups: dict[str, dict[TopicPartition, int]]) -> list[dict[str, Any]]:
        """After a topic was recreated: each group that had read it starts the new log at 0. A deleted
        topic's offsets may be dropped by the broker (tansu does), leaving the group to its reset policy
        (`latest` skips what is written before it comes back); a group with active members keeps its
        old position in memory and commits it past the new end: it cannot be moved now, so it is
        reported with what to run."""
        done = []
        for gid, offsets in sorted(groups.items()):
            row: dict[str, Any] = {"group": gid, "partitions": sorted(tp.partition for tp in offsets),
                                   "from": max(offsets.values())}
            members = self.describe_group(gid)["members"]
            if members:
                topic = next(iter(offsets)).topic
                row.update(reset=False, members=len(members), hint=stop_consumers_hint(gid, [topic]))
            else:
                self.commit_offsets(gid, dict.fromkeys(offsets, 0))
                row.update(reset=True)
            done.append(row)
        return done

    def commit_offsets(self, group: str, targets: dict[TopicPartition, int]) -> None:
        from kafka.structs import OffsetAndMetadata

        with self.calls():
            errors = self.admin.alter_group_offsets(group, {tp: OffsetAndMetadata(o, "", -1)
                                                            for tp, o in targets.items()})
        failed = {str(tp): e.__name__ for tp, e in errors.items() if e.__name__ != "NoError"}
        if failed:
            raise SpotctlError(f"the broker refused some offsets: {failed}")

    # -- records ----------------------------------------------------------------------------------------

    def tail(self, topic: str, plan: TailPlan, wanted: set[int] | None) -> list[dict[str, Any]]:
        """The records `plan` selects, read up to the end of the selected partitions (left assigned, so
        `follow()` goes on from there)."""
        consumer = self.consumer
        tps = [tp for tp in self.partitions(topic) if wanted is None or tp.partition in wanted]
        with self.calls():
            begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
            starts = plan.first_offsets({_key(tp): begin[tp] for tp in tps}, {_key(tp): end[tp] for tp in tps})
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, starts[_key(tp)])
            return plan.select(self._backlog(tps, end, plan.per_partition_cap()))

    def _backlog(self, tps: list[TopicPartition], end: dict[TopicPartition, int],
                 cap: int | None) -> list[dict[str, Any]]:
        """Read until caught up: every partition past its reported end and 1 s without new records
        (the reported end alone is not trusted, see TailPlan.first_offsets), or `cap` records each."""
        consumer = self.consumer
        records: list[dict[str, Any]] = []
        taken = dict.fromkeys(tps, 0)
        deadline, quiet_since = time.monotonic() + BACKLOG_BUDGET_S, None
        while time.monotonic() < deadline:
            got = consumer.poll(timeout_ms=250)
            for tp, msgs in got.items():
                records += [view(m) for m in msgs]
                taken[tp] += len(msgs)
            if cap is not None and all(taken[tp] >= cap for tp in tps):
                return records
            if got or any(consumer.position(tp) < end[tp] for tp in tps):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 1.0:
                return records
        self.warnings.append(f"stopped reading the backlog after {BACKLOG_BUDGET_S:g} s; some partitions were "
                             "not read to their end")
        return records

    def follow(self, timeout: float | None) -> Iterator[dict[str, Any]]:
        """New records on the partitions `tail()` assigned, as they arrive, until `timeout` (or forever)."""
        stop = None if timeout is None else time.monotonic() + timeout
        while stop is None or time.monotonic() < stop:
            with self.calls():
                batches = self.consumer.poll(timeout_ms=300)
            for msgs in batches.values():
                for m in msgs:
                    yield view(m)

    def produce(self, topic: str, values: Sequence[str], *, key: str | None, partition: int | None,
                headers: Sequence[tuple[str, bytes]]) -> list[dict[str, Any]]:
        """Send records and wait for each ack: [{topic, partition, offset}]."""
        from kafka import KafkaProducer

        with self.calls():
            producer = KafkaProducer(bootstrap_servers=self.servers, client_id="spotctl", max_block_ms=8000,
                                     bootstrap_timeout_ms=5000)
            try:
                # One record per request: brokers then report exact offsets (tansu's log end for a
                # multi-record batch is its base offset + 1, which would skew `topics` and lag).
                sent = [producer.send(topic, value=v.encode(), key=key.encode() if key is not None else None,
                                      partition=partition, headers=list(headers) or None).get(timeout=15)
                        for v in values]
            finally:
                producer.close()
        return [{"topic": topic, "partition": md.partition, "offset": md.offset} for md in sent]

    def purge(self, extent: Extent, recreate: bool) -> None:
        """Delete every record of the topic (DeleteRecords), or drop and recreate it when asked to."""
        import kafka.errors as ke
        from kafka.admin import NewTopic

        with self.calls():
            if recreate:
                self.admin.delete_topics([extent.topic])
                for _ in range(50):
                    try:
                        self.admin.create_topics([NewTopic(extent.topic, len(extent.partitions), 1)])
                        break
                    except ke.TopicAlreadyExistsError:
                        time.sleep(0.1)
                return
            try:
                self.admin.delete_records({tp: extent.end[tp] for tp in extent.partitions})
            except (ke.KafkaConnectionError, ke.UnsupportedVersionError):
                raise SpotctlError("this broker does not support DeleteRecords (the local runtime's tansu "
                                   "does not)", hint="add --recreate to drop and recreate the topic "
                                   "(same partition count; topic configs are not kept)") from None


def new_consumer(servers: str) -> KafkaConsumer:
    """A consumer that belongs to no group and never commits."""
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                         client_id="spotctl", bootstrap_timeout_ms=5000, request_timeout_ms=10000)


def view(msg: Any) -> dict[str, Any]:
    """A kafka-python ConsumerRecord as `record_view` shapes it."""
    return record_view(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.value, msg.headers)


def _key(tp: TopicPartition) -> Partition:
    return (tp.topic, tp.partition)
