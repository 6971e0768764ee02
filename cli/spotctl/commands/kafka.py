"""`spotctl kafka`: topics with offsets, groups with lag, tail without committing, produce, reset-offsets.

`tail` assigns partitions itself (no consumer group): it never commits, never rebalances anyone, and
starts at once instead of waiting for a group assignment (~23 s on the local broker).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json, warn

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaConsumer

KEY = "KAFKA_BOOTSTRAP_SERVERS"
UrlOpt = Annotated[str | None, typer.Option("--bootstrap", "--url", help="Bootstrap servers host:port[,...] "
                                           "(default: $KAFKA_BOOTSTRAP_SERVERS, then the stack).",
                                           show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

app = typer.Typer(help="Inspect and drive Kafka: topics, consumer lag, tail, produce, offset resets.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kafka", help="Inspect Kafka (topics, group lag, tail, produce, reset-offsets).")


def bootstrap(url: str | None) -> str:
    """The servers, checked by TCP first: kafka-python would otherwise retry for 30 s before failing."""
    from spotctl.endpoints import port_open, resolve
    from spotctl.errors import ServiceDown
    from spotctl.inspect.reach import require

    servers = require(KEY, resolve({KEY: url}).kafka_bootstrap_servers)
    if not any(port_open(s.strip(), 9092, 1.0) for s in servers.split(",")):
        raise ServiceDown("kafka", servers, "connection refused")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its retries are noise; failures are raised
    return servers


@contextmanager
def kafka_errors(servers: str) -> Iterator[None]:
    import kafka.errors as ke

    from spotctl.errors import ServiceDown, SpotctlError

    try:
        yield
    except ke.KafkaConnectionError as exc:
        raise ServiceDown("kafka", servers, str(exc) or type(exc).__name__) from None
    except ke.KafkaError as exc:
        raise SpotctlError(f"kafka: {exc}") from None


def admin_client(servers: str) -> KafkaAdminClient:
    from kafka import KafkaAdminClient

    class Admin(KafkaAdminClient):
        def _process_acl_operations(self, obj: dict[str, Any]) -> dict[str, Any]:
            # kafka-python 3.0 always decodes "authorized operations"; tansu answers with codes it does
            # not know (ValueError).  We never show them, so drop them instead of failing.
            obj.pop("authorized_operations", None)
            return obj

    return Admin(bootstrap_servers=servers, client_id="spotctl", bootstrap_timeout_ms=5000,
                 request_timeout_ms=10000)


def consumer_client(servers: str) -> KafkaConsumer:
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                         client_id="spotctl", bootstrap_timeout_ms=5000, request_timeout_ms=10000)


def partitions(consumer: KafkaConsumer, topic: str) -> list[Any]:
    from kafka import TopicPartition

    from spotctl.errors import SpotctlError

    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise SpotctlError(f"no topic {topic!r}", hint="list topics with `spotctl kafka topics`")
    return [TopicPartition(topic, p) for p in sorted(parts)]


def offsets(consumer: KafkaConsumer, tps: list[Any]) -> tuple[dict[Any, int], dict[Any, int]]:
    """Earliest and log-end offsets, the end checked by reading the last record of each partition.

    tansu reports the end of a partition whose last write was a multi-record batch as the batch's
    base offset + 1; fetching from there returns the whole batch, whose last offset + 1 is the real end.
    Against Apache Kafka the probe just confirms the reported end.
    """
    begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
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


@app.command("topics")
def topics_cmd(internal: Annotated[bool, typer.Option("--internal", help="Include __internal topics.")] = False,
               url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Topics with partition count and the earliest/latest offset of each partition."""
    servers = bootstrap(url)
    with kafka_errors(servers):
        admin, consumer = admin_client(servers), consumer_client(servers)
        names = sorted(t for t in admin.list_topics() if internal or not t.startswith("__"))
        tps = [tp for t in names for tp in partitions(consumer, t)]
        begin, end = offsets(consumer, tps)
        admin.close()
        consumer.close()
    topics = []
    for name in names:
        parts = [{"partition": tp.partition, "earliest": begin[tp], "latest": end[tp]}
                 for tp in tps if tp.topic == name]
        topics.append({"topic": name, "partitions": len(parts), "messages": sum(p["latest"] - p["earliest"]
                                                                               for p in parts),
                       "offsets": parts})
    emit(topics, output, ("topic", "partitions", "messages", "latest offsets"),
         [(t["topic"], t["partitions"], t["messages"], " ".join(f"{p['partition']}:{p['latest']}"
                                                                for p in t["offsets"])) for t in topics],
         title="topics")


def describe_group(admin: KafkaAdminClient, group: str) -> dict[str, Any]:
    """State and members; a broker reply kafka-python cannot read gives state 'unknown', not a crash."""
    import kafka.errors as ke

    try:
        desc = admin.describe_groups([group]).get(group, {})
    except (ke.KafkaError, ValueError) as exc:
        warn(f"could not describe group {group} ({exc}); members are not shown")
        return {"state": "unknown", "members": None}
    return {"state": desc.get("group_state", "unknown"),
            "members": [{"member_id": m.get("member_id"), "client_id": m.get("client_id"),
                         "host": m.get("client_host")} for m in desc.get("members", [])]}


def committed_offsets(admin: KafkaAdminClient, group: str) -> dict[Any, int]:
    offsets = admin.list_group_offsets({group: None}).get(group, {})
    return {tp: om.offset for tp, om in offsets.items() if om is not None and om.offset >= 0}


@app.command("groups")
def groups_cmd(group: Annotated[str | None, typer.Argument(help="One group; omit for all.")] = None,
               url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Consumer groups: state, members, and lag per partition (log end minus committed offset)."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect.kafka_view import lag_rows

    servers = bootstrap(url)
    with kafka_errors(servers):
        admin, consumer = admin_client(servers), consumer_client(servers)
        ids = sorted(g["group_id"] for g in admin.list_groups())
        if group is not None:
            if group not in ids:
                raise SpotctlError(f"no consumer group {group!r}", hint="list them with `spotctl kafka groups`")
            ids = [group]
        committed = {gid: committed_offsets(admin, gid) for gid in ids}
        _, end = offsets(consumer, sorted({tp for c in committed.values() for tp in c}))
        ends = {(tp.topic, tp.partition): o for tp, o in end.items()}
        result = []
        for gid in ids:
            rows = lag_rows({(tp.topic, tp.partition): o for tp, o in committed[gid].items()}, ends)
            result.append({"group": gid, **describe_group(admin, gid), "partitions": rows,
                           "total_lag": sum(r["lag"] or 0 for r in rows)})
        admin.close()
        consumer.close()
    table = [(g["group"], g["state"], "?" if g["members"] is None else len(g["members"]), r["topic"],
              r["partition"], r["committed"], r["end"], r["lag"])
             for g in result for r in (g["partitions"] or [{"topic": "", "partition": "", "committed": "",
                                                           "end": "", "lag": ""}])]
    emit(result, output, ("group", "state", "members", "topic", "partition", "committed", "end", "lag"), table,
         title="consumer groups")


def _print_record(record: dict[str, Any], output: OutputFormat) -> None:
    from spotctl.inspect.kafka_view import record_line

    print(json.dumps(record, ensure_ascii=False) if output is OutputFormat.json else record_line(record),
          flush=True)


def _view(msg: Any) -> dict[str, Any]:
    from spotctl.inspect.kafka_view import record_view

    return record_view(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.value, msg.headers)


@app.command("tail")
def tail_cmd(
    topic: str,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest record.")] = False,
    offset: Annotated[int | None, typer.Option("--offset", min=0, help="Start at this offset "
                                               "(in every selected partition).")] = None,
    n: Annotated[int | None, typer.Option("-n", "--count", min=1, help="Records to show (default 10 "
                                          "newest; 100 with --from-beginning/--offset).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new records.")] = False,
    partition: Annotated[str | None, typer.Option("--partition", "-p", help="Only these, e.g. 0,2.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.1, help="Stop following after S "
                                                  "seconds.")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Print records of TOPIC without joining a group or committing offsets (like kcat -C without -G).

    JSON output is one object per line (topic, partition, offset, time, key, value, headers).
    """
    from spotctl.inspect.kafka_view import TailPlan, parse_partitions

    plan = TailPlan.from_flags(from_beginning, offset, n, follow)
    wanted = parse_partitions(partition)
    servers = bootstrap(url)
    with kafka_errors(servers):
        consumer = consumer_client(servers)
        tps = [tp for tp in partitions(consumer, topic) if wanted is None or tp.partition in wanted]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        starts = plan.first_offsets({(tp.topic, tp.partition): begin[tp] for tp in tps},
                                    {(tp.topic, tp.partition): end[tp] for tp in tps})
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, starts[(tp.topic, tp.partition)])
        backlog = read_backlog(consumer, tps, end, plan.per_partition_cap())
        for record in plan.select(backlog):
            _print_record(record, output)
        if follow:
            info(f"following {topic} (ctrl-c to stop)")
            stop = None if timeout is None else time.monotonic() + timeout
            while stop is None or time.monotonic() < stop:
                for msgs in consumer.poll(timeout_ms=300).values():
                    for m in msgs:
                        _print_record(_view(m), output)
        consumer.close()


def read_backlog(consumer: KafkaConsumer, tps: list[Any], end: dict[Any, int],
                 cap: int | None) -> list[dict[str, Any]]:
    """Read until caught up: every partition past its reported end and 1 s without new records
    (the reported end alone is not trusted, see TailPlan.first_offsets), or `cap` records each."""
    records: list[dict[str, Any]] = []
    taken = dict.fromkeys(tps, 0)
    deadline, quiet_since = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        got = consumer.poll(timeout_ms=250)
        for tp, msgs in got.items():
            records += [_view(m) for m in msgs]
            taken[tp] += len(msgs)
        if cap is not None and all(taken[tp] >= cap for tp in tps):
            return records
        if got or any(consumer.position(tp) < end[tp] for tp in tps):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return records
    warn("stopped reading the backlog after 20 s; some partitions were not read to their end")
    return records


@app.command("produce")
def produce_cmd(
    topic: str,
    values: Annotated[list[str] | None, typer.Argument(help="Values; none or '-' reads one per line "
                                                       "from stdin.")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="Record key (same for every value).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Check each value is JSON; send it compact.")] = False,
    partition: Annotated[int | None, typer.Option("--partition", "-p", min=0)] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="NAME=VALUE, repeatable.")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Send records and wait for the broker's ack; prints the partition and offset of each."""
    from kafka import KafkaProducer

    from spotctl.errors import UsageError
    from spotctl.inspect.rabbit_view import parse_headers
    from spotctl.inspect.values import parse_json_arg

    if not values or values == ["-"]:
        if sys.stdin.isatty():
            info("reading values from stdin, one per line (ctrl-d to send)")
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    else:
        texts = values
    if not texts:
        raise UsageError("no values to produce", hint="pass them as arguments or one per line on stdin")
    if as_json:
        texts = [json.dumps(parse_json_arg(t, f"value #{i + 1}"), separators=(",", ":"))
                 for i, t in enumerate(texts)]
    headers = [(k, v.encode()) for k, v in parse_headers(header or []).items()]
    servers = bootstrap(url)
    with kafka_errors(servers):
        producer = KafkaProducer(bootstrap_servers=servers, client_id="spotctl", max_block_ms=8000,
                                 bootstrap_timeout_ms=5000)
        # One record per request: brokers then report exact offsets (tansu's log end for a multi-record
        # batch is its base offset + 1, which would skew `topics` and lag).
        sent = [producer.send(topic, value=t.encode(), key=key.encode() if key is not None else None,
                              partition=partition, headers=headers or None).get(timeout=15) for t in texts]
        producer.close()
    rows = [{"topic": topic, "partition": md.partition, "offset": md.offset} for md in sent]
    emit(rows, output, ("topic", "partition", "offset"), [(r["topic"], r["partition"], r["offset"]) for r in rows])


@app.command("reset-offsets")
def reset_offsets_cmd(
    group: str,
    topic: Annotated[list[str] | None, typer.Option("--topic", "-t", help="Topics to reset (default: all the "
                                                    "group has committed).")] = None,
    to_earliest: Annotated[bool, typer.Option("--to-earliest")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest")] = False,
    to_offset: Annotated[int | None, typer.Option("--to-offset", min=0)] = None,
    shift_by: Annotated[int | None, typer.Option("--shift-by", help="Move by N (negative = replay).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Move a stopped group's committed offsets (shows old -> new, asks first; --yes to skip)."""
    from kafka.structs import OffsetAndMetadata

    from spotctl.errors import SpotctlError, UsageError
    from spotctl.inspect.kafka_view import Reset, reset_targets

    chosen = [m for m, on in ((Reset.EARLIEST, to_earliest), (Reset.LATEST, to_latest),
                              (Reset.OFFSET, to_offset is not None), (Reset.SHIFT, shift_by is not None)) if on]
    if len(chosen) != 1:
        raise UsageError("choose exactly one of --to-earliest, --to-latest, --to-offset N, --shift-by N")
    servers = bootstrap(url)
    with kafka_errors(servers):
        admin, consumer = admin_client(servers), consumer_client(servers)
        committed = committed_offsets(admin, group)
        tps = [tp for t in topic for tp in partitions(consumer, t)] if topic else list(committed)
        if not tps:
            raise SpotctlError(f"group {group!r} has no committed offsets", hint="name the topics with --topic")
        members = describe_group(admin, group)["members"]
        if members:
            raise SpotctlError(f"group {group!r} has {len(members)} active member(s); stop its consumers first")
        begin, end = offsets(consumer, tps)
        targets = reset_targets(chosen[0], to_offset if to_offset is not None else shift_by,
                                {tp: committed.get(tp) for tp in tps}, begin, end)
        plan = [{"topic": tp.topic, "partition": tp.partition, "from": committed.get(tp), "to": targets[tp]}
                for tp in sorted(tps)]
        if not dry_run:
            confirm(f"move {len(plan)} committed offset(s) of group {group!r}", yes)
            errors = admin.alter_group_offsets(group, {tp: OffsetAndMetadata(o, "", -1) for tp, o in targets.items()})
            failed = {str(tp): e.__name__ for tp, e in errors.items() if e.__name__ != "NoError"}
            if failed:
                raise SpotctlError(f"the broker refused some offsets: {failed}")
        admin.close()
        consumer.close()
    if output is OutputFormat.json:
        print_json({"group": group, "applied": not dry_run, "offsets": plan})
    else:
        emit(None, output, ("topic", "partition", "from", "to"),
             [(p["topic"], p["partition"], p["from"], p["to"]) for p in plan],
             title=f"{group}: {'planned' if dry_run else 'moved'}")


def purge_topic(topic: str, yes: bool, recreate: bool, url: str | None, output: OutputFormat) -> None:
    """Delete every record of a topic (DeleteRecords), or drop and recreate it when asked to."""
    import kafka.errors as ke
    from kafka.admin import NewTopic

    from spotctl.errors import SpotctlError

    servers = bootstrap(url)
    with kafka_errors(servers):
        admin, consumer = admin_client(servers), consumer_client(servers)
        tps = partitions(consumer, topic)
        begin, end = offsets(consumer, tps)
        count = sum(end[tp] - begin[tp] for tp in tps)
        how = "delete and recreate" if recreate else "delete the records of"
        confirm(f"{how} Kafka topic {topic!r} ({count} record(s) in {len(tps)} partition(s))", yes)
        if recreate:
            admin.delete_topics([topic])
            for _ in range(50):
                try:
                    admin.create_topics([NewTopic(topic, len(tps), 1)])
                    break
                except ke.TopicAlreadyExistsError:
                    time.sleep(0.1)
        else:
            try:
                admin.delete_records({tp: end[tp] for tp in tps})
            except (ke.KafkaConnectionError, ke.UnsupportedVersionError):
                raise SpotctlError("this broker does not support DeleteRecords (the local runtime's tansu "
                                   "does not)", hint="add --recreate to drop and recreate the topic "
                                   "(same partition count; topic configs are not kept)") from None
        admin.close()
        consumer.close()
    emit({"topic": topic, "purged": count, "recreated": recreate}, output, ("topic", "purged", "recreated"),
         [(topic, count, recreate)])
