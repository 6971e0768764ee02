"""`spotctl kafka`: topics with offsets, groups with lag, tail without committing, produce, reset-offsets.

`tail` assigns partitions itself (no consumer group): it never commits, never rebalances anyone, and
starts at once instead of waiting for a group assignment (~23 s on the local broker).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.commands._complete import Group, Topic, groups, topics
from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json, warn

if TYPE_CHECKING:
    from spotctl.clients.kafka import KafkaClient

KEY = "KAFKA_BOOTSTRAP_SERVERS"
UrlOpt = Annotated[str | None, typer.Option("--bootstrap", "--url", help="Bootstrap servers host:port[,...] "
                                           "(default: $KAFKA_BOOTSTRAP_SERVERS, then the stack).",
                                           show_default=False)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

app = typer.Typer(help="Inspect and drive Kafka: topics, consumer lag, tail, produce, offset resets.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="kafka", help="Inspect Kafka (topics, group lag, tail, produce, reset-offsets).")


@contextmanager
def connect(url: str | None) -> Iterator[KafkaClient]:
    """The Kafka client for `--bootstrap`, else $KAFKA_BOOTSTRAP_SERVERS, else the stack's; what it had
    to leave out is said on stderr."""
    from spotctl.clients.kafka import KafkaClient
    from spotctl.endpoints import resolve

    with KafkaClient(resolve({KEY: url}).kafka_bootstrap_servers) as client:
        try:
            yield client
        finally:
            for message in client.warnings:
                warn(message)


@app.command("topics")
def topics_cmd(internal: Annotated[bool, typer.Option("--internal", help="Include __internal topics.")] = False,
               url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Topics with partition count and the earliest/latest offset of each partition."""
    with connect(url) as kafka:
        topics = kafka.topics(internal)
    emit(topics, output, ("topic", "partitions", "messages", "latest offsets"),
         [(t["topic"], t["partitions"], t["messages"], " ".join(f"{p['partition']}:{p['latest']}"
                                                                for p in t["offsets"])) for t in topics],
         title="topics")


@app.command("groups")
def groups_cmd(group: Annotated[str | None, typer.Argument(help="One group; omit for all.",
                                                           autocompletion=groups)] = None,
               url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Consumer groups: state, members, and lag per partition (log end minus committed offset)."""
    with connect(url) as kafka:
        result = kafka.groups(group)
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


@app.command("tail")
def tail_cmd(
    topic: Topic,
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
    with connect(url) as kafka:
        records = kafka.tail(topic, plan, wanted)
        for record in records:
            _print_record(record, output)
        if not records:
            from spotctl.inspect.kafka_view import empty_tail_message

            extent = kafka.extent(topic)
            info(empty_tail_message(topic, extent.records, len(extent.partitions)))
        if follow:
            info(f"following {topic} (ctrl-c to stop)")
            for record in kafka.follow(timeout):
                _print_record(record, output)


@app.command("produce")
def produce_cmd(
    topic: Topic,
    values: Annotated[list[str] | None, typer.Argument(help="Values; none or '-' reads one per line "
                                                       "from stdin.")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="Record key (same for every value).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Check each value is JSON; send it compact.")] = False,
    partition: Annotated[int | None, typer.Option("--partition", "-p", min=0)] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="NAME=VALUE, repeatable.")] = None,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Send records and wait for the broker's ack; prints the partition and offset of each."""
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
    with connect(url) as kafka:
        rows = kafka.produce(topic, texts, key=key, partition=partition, headers=headers)
    emit(rows, output, ("topic", "partition", "offset"), [(r["topic"], r["partition"], r["offset"]) for r in rows])


@app.command("reset-offsets")
def reset_offsets_cmd(
    group: Group,
    topic: Annotated[list[str] | None, typer.Option("--topic", "-t", help="Topics to reset (default: all the "
                                                    "group has committed).", autocompletion=topics)] = None,
    to_earliest: Annotated[bool, typer.Option("--to-earliest")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest")] = False,
    to_offset: Annotated[int | None, typer.Option("--to-offset", min=0)] = None,
    shift_by: Annotated[int | None, typer.Option("--shift-by", help="Move by N (negative = replay).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Move a stopped group's committed offsets (shows old -> new, asks first; --yes to skip)."""
    from spotctl.errors import UsageError
    from spotctl.inspect import questions
    from spotctl.inspect.kafka_view import Reset

    chosen = [m for m, on in ((Reset.EARLIEST, to_earliest), (Reset.LATEST, to_latest),
                              (Reset.OFFSET, to_offset is not None), (Reset.SHIFT, shift_by is not None)) if on]
    if len(chosen) != 1:
        raise UsageError("choose exactly one of --to-earliest, --to-latest, --to-offset N, --shift-by N")
    with connect(url) as kafka:
        moves = kafka.reset_plan(group, topic or [], chosen[0], to_offset if to_offset is not None else shift_by)
        plan = [{"topic": tp.topic, "partition": tp.partition, "from": old, "to": new}
                for tp, (old, new) in moves.items()]
        if not dry_run:
            confirm(questions.reset_offsets(group, len(plan)), yes)
            kafka.commit_offsets(group, {tp: new for tp, (_, new) in moves.items()})
    if output is OutputFormat.json:
        print_json({"group": group, "applied": not dry_run, "offsets": plan})
    else:
        emit(None, output, ("topic", "partition", "from", "to"),
             [(p["topic"], p["partition"], p["from"], p["to"]) for p in plan],
             title=f"{group}: {'planned' if dry_run else 'moved'}")


def purge_topic(topic: str, yes: bool, recreate: bool, url: str | None, output: OutputFormat) -> None:
    """Delete every record of a topic (DeleteRecords), or drop and recreate it when asked to."""
    from spotctl.inspect import questions

    with connect(url) as kafka:
        extent = kafka.extent(topic)
        confirm(questions.purge_topic(topic, extent.records, len(extent.partitions), recreate), yes)
        groups = kafka.groups_on(topic) if recreate else {}
        kafka.purge(extent, recreate)
        rewound = kafka.rewind(groups)
    emit({"topic": topic, "purged": extent.records, "recreated": recreate, "groups": rewound}, output,
         ("topic", "purged", "recreated"), [(topic, extent.records, recreate)])
    for row in rewound:
        if row["reset"]:
            info(f"group {row['group']}: committed offsets on {topic} moved back to 0 (were up to {row['from']})")
        else:
            warn(f"group {row['group']} has {row['members']} active member(s): its committed offsets on {topic} "
                 f"(up to {row['from']}) are past the new log's end; {row['hint']}")
