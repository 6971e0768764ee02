"""`spotctl rabbit`: queues, exchanges, bindings (management API); peek, publish, purge, DLQ re-drive (AMQP).

Listings need the management HTTP API (AMQP cannot enumerate); everything that touches messages uses
AMQP, so it works against any broker, management plugin or not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spotctl.commands._complete import RabbitQueue, rabbit_queues
from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json

if TYPE_CHECKING:
    from spotctl.clients.rabbit import Amqp, Management

AMQP, MGMT = "AMQP_URL", "RABBITMQ_MGMT_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="AMQP URL (default: $AMQP_URL, then the stack).",
                                           show_default=False)]
MgmtOpt = Annotated[str | None, typer.Option("--mgmt-url", help="Management API URL (default: "
                                            "$RABBITMQ_MGMT_URL, then the stack).", show_default=False)]
VhostOpt = Annotated[str, typer.Option("--vhost", help="Virtual host.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

app = typer.Typer(help="Inspect and drive RabbitMQ: queues, exchanges, bindings, messages, dead letters.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rabbit", help="Inspect RabbitMQ (queues, peek, publish, purge, DLQ re-drive).")


@contextmanager
def management(mgmt_url: str | None) -> Iterator[Management]:
    """The management API at `--mgmt-url`, else $RABBITMQ_MGMT_URL, else the stack's."""
    from spotctl.clients.rabbit import Management
    from spotctl.endpoints import resolve

    ep = resolve({MGMT: mgmt_url})
    with Management(ep.rabbitmq_mgmt_url, ep.amqp_url) as client:
        yield client


@contextmanager
def amqp(url: str | None) -> Iterator[Amqp]:
    """An AMQP channel at `--url`, else $AMQP_URL, else the stack's."""
    from spotctl.clients.rabbit import Amqp
    from spotctl.endpoints import resolve

    with Amqp(resolve({AMQP: url}).amqp_url) as client:
        yield client


@app.command("queues")
def queues_cmd(vhost: VhostOpt = "/", mgmt_url: MgmtOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Queues with ready/unacked counts, consumers and message rates (management API)."""
    from spotctl.inspect.rabbit_view import QUEUE_COLUMNS, queue_row

    with management(mgmt_url) as api:
        queues = api.queues(vhost)
    emit(queues, output, QUEUE_COLUMNS, [queue_row(q) for q in queues], title=f"queues in {vhost}")


@app.command("exchanges")
def exchanges_cmd(vhost: VhostOpt = "/", mgmt_url: MgmtOpt = None,
                  output: OutputOpt = OutputFormat.table) -> None:
    """Exchanges with type, durability, alternate exchange and rates (management API)."""
    with management(mgmt_url) as api:
        xs = api.exchanges(vhost)
    emit(xs, output, ("exchange", "type", "durable", "alternate", "in", "out"),
         [(x["name"], x["type"], x["durable"], x["alternate_exchange"] or "", f"{x['in_rate']:g}/s",
           f"{x['out_rate']:g}/s") for x in xs], title=f"exchanges in {vhost}")


@app.command("bindings")
def bindings_cmd(
    exchange: Annotated[str | None, typer.Option("--exchange", "-x", help="Only bindings from it.")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="Only bindings to it.")] = None,
    vhost: VhostOpt = "/", mgmt_url: MgmtOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Which exchange routes to which queue, by which routing key (management API)."""
    with management(mgmt_url) as api:
        bs = api.bindings(vhost)
    bs = [b for b in bs if (exchange is None or b["source"] == (exchange or "(default)"))
          and (queue is None or b["destination"] == queue)]
    emit(bs, output, ("source", "destination", "type", "routing key", "arguments"),
         [(b["source"], b["destination"], b["destination_type"], b["routing_key"], b["arguments"] or "")
          for b in bs], title="bindings")


def _show_messages(queue: str, total: int, msgs: list[dict[str, Any]], output: OutputFormat) -> None:
    from spotctl.inspect.values import cell

    if output is OutputFormat.json:
        print_json({"queue": queue, "messages_in_queue": total, "messages": msgs})
        return
    info(f"{len(msgs)} of {total} message(s) in {queue}, requeued")
    rows = [(m["index"], m["routing_key"], "yes" if m["redelivered"] else "",
             (m["death"] or {}).get("reason") or "", cell(m["body"], 100)) for m in msgs]
    emit(None, output, ("#", "routing key", "redelivered", "died", "body"), rows)


@app.command("peek")
def peek_cmd(queue: RabbitQueue, n: Annotated[int, typer.Argument(min=1, help="How many messages.")] = 5,
             url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Look at the first N messages without losing them: they are fetched and requeued.

    RabbitMQ has no true peek: requeued messages may change order and are marked redelivered, and
    a live consumer on the queue competes for them while you look.
    """
    with amqp(url) as rabbit:
        total, msgs = rabbit.peek(queue, n)
    _show_messages(queue, total, msgs, output)


@app.command("publish")
def publish_cmd(
    body: Annotated[str, typer.Argument(help="Message body; '-' reads stdin. JSON bodies get "
                                        "content_type application/json.")],
    exchange: Annotated[str, typer.Option("--exchange", "-x", help="Exchange ('' = default).")] = "",
    routing_key: Annotated[str, typer.Option("--routing-key", "-k", help="Routing key.")] = "",
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="Shortcut: default exchange, "
                                              "routing key = this queue.")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="NAME=VALUE, repeatable.")] = None,
    reply_to: Annotated[str | None, typer.Option("--reply-to")] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id")] = None,
    persistent: Annotated[bool, typer.Option("--persistent/--transient")] = True,
    url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Publish one message with publisher confirms; fails if no queue receives it."""
    import pika

    from spotctl.errors import UsageError
    from spotctl.inspect.rabbit_view import parse_headers
    from spotctl.inspect.values import maybe_json

    if queue is not None:
        if exchange or routing_key:
            raise UsageError("--queue publishes through the default exchange; drop --exchange/--routing-key")
        routing_key = queue
    text = sys.stdin.read() if body == "-" else body
    is_json = not isinstance(maybe_json(text), str)
    props = pika.BasicProperties(content_type="application/json" if is_json else "text/plain",
                                 delivery_mode=2 if persistent else 1, headers=parse_headers(header or []) or None,
                                 reply_to=reply_to, correlation_id=correlation_id)
    with amqp(url) as rabbit:
        rabbit.publish(exchange, routing_key, text.encode(), props)
    result = {"exchange": exchange, "routing_key": routing_key, "bytes": len(text.encode()), "confirmed": True}
    emit(result, output, ("exchange", "routing key", "bytes", "confirmed"),
         [(exchange or "(default)", routing_key, result["bytes"], "yes")])


def purge_queue(queue: str, yes: bool, url: str | None, output: OutputFormat) -> None:
    """Show the count, confirm, purge, print how many went (shared with `spotctl purge queue`)."""
    from spotctl.inspect import questions

    with amqp(url) as rabbit:
        confirm(questions.purge_queue(queue, rabbit.count(queue)), yes)
        purged = rabbit.purge(queue)
    emit({"queue": queue, "purged": purged}, output, ("queue", "purged"), [(queue, purged)])


@app.command("purge")
def purge_cmd(queue: RabbitQueue, yes: YesOpt = False, url: UrlOpt = None,
              output: OutputOpt = OutputFormat.table) -> None:
    """Drop every ready message of QUEUE (shows the count and asks first; --yes to skip)."""
    purge_queue(queue, yes, url, output)


@app.command("dlq")
def dlq_cmd(
    queue: Annotated[str | None, typer.Argument(autocompletion=rabbit_queues,
                                                help="A queue (or its .dlq) to look into; omit to list "
                                                "all dead-letter queues.")] = None,
    n: Annotated[int, typer.Option("--limit", "-n", min=1, help="Messages to show.")] = 10,
    url: UrlOpt = None, mgmt_url: MgmtOpt = None, vhost: VhostOpt = "/", output: OutputOpt = OutputFormat.table,
) -> None:
    """Dead letters: every <queue>.dlq with its count, or one DLQ's messages with why they died."""
    from spotctl.inspect.rabbit_view import DLQ_SUFFIX, dlq_name

    if queue is None:
        with management(mgmt_url) as api:
            dlqs = [q for q in api.queues(vhost) if q["name"].endswith(DLQ_SUFFIX)]
        rows = [{"dlq": q["name"], "queue": q["name"][: -len(DLQ_SUFFIX)], "messages": q["ready"] + q["unacked"]}
                for q in dlqs]
        emit(rows, output, ("dead-letter queue", "for queue", "messages"),
             [(r["dlq"], r["queue"], r["messages"]) for r in rows], title="dead-letter queues")
        return
    with amqp(url) as rabbit:
        total, msgs = rabbit.peek(dlq_name(queue), n)
    _show_messages(dlq_name(queue), total, msgs, output)


@app.command("redrive")
def redrive_cmd(
    queue: Annotated[str, typer.Argument(help="The queue whose <queue>.dlq to re-drive (or the .dlq).",
                                         autocompletion=rabbit_queues)],
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Move at most N.")] = None,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Move dead letters back to the queue they died in (publisher-confirmed, then acked: none lost)."""
    from spotctl.errors import SpotctlError
    from spotctl.inspect import questions
    from spotctl.inspect.rabbit_view import dlq_name

    src = dlq_name(queue)
    with amqp(url) as rabbit:
        count = rabbit.count(src)
        todo = count if limit is None else min(limit, count)
        if todo == 0:
            raise SpotctlError(f"{src} is empty: nothing to re-drive")
        confirm(questions.redrive(src, todo), yes)
        moved = rabbit.redrive(src, todo)
    result = {"dlq": src, "moved": sum(moved.values()), "to": dict(moved)}
    emit(result, output, ("from", "to", "moved"), [(src, dest, k) for dest, k in moved.items()])
