"""`spotctl rabbit`: queues, exchanges, bindings (management API); peek, publish, purge, DLQ re-drive (AMQP).

Listings need the management HTTP API (AMQP cannot enumerate); everything that touches messages uses
AMQP, so it works against any broker, management plugin or not.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from spotctl.output import OutputFormat, OutputOpt, confirm, emit, info, print_json

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

AMQP, MGMT = "AMQP_URL", "RABBITMQ_MGMT_URL"
UrlOpt = Annotated[str | None, typer.Option("--url", help="AMQP URL (default: $AMQP_URL, then the stack).",
                                           show_default=False)]
MgmtOpt = Annotated[str | None, typer.Option("--mgmt-url", help="Management API URL (default: "
                                            "$RABBITMQ_MGMT_URL, then the stack).", show_default=False)]
VhostOpt = Annotated[str, typer.Option("--vhost", help="Virtual host.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
PROPS = ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
         "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "headers")

app = typer.Typer(help="Inspect and drive RabbitMQ: queues, exchanges, bindings, messages, dead letters.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rabbit", help="Inspect RabbitMQ (queues, peek, publish, purge, DLQ re-drive).")


def mgmt_get(mgmt_url: str | None, path: str) -> Any:
    """GET a management-API path as JSON; a missing plugin or broker is one clear line (which of the two)."""
    import httpx

    from spotctl.endpoints import port_open, resolve
    from spotctl.errors import SpotctlError
    from spotctl.inspect.reach import reaching, redact, require, short

    ep = resolve({MGMT: mgmt_url})
    target = require(MGMT, ep.rabbitmq_mgmt_url)
    url = httpx.URL(target)
    auth = (url.username or "guest", url.password or "guest")
    try:
        resp = httpx.get(url.copy_with(username=None, password=None).join(path), auth=auth, timeout=5)
    except httpx.TransportError as exc:
        if ep.amqp_url and port_open(ep.amqp_url, 5672):  # the broker runs, only its plugin is missing
            raise SpotctlError(f"the RabbitMQ management API is not reachable at {redact(target)} "
                               f"({short(exc)}); AMQP at {redact(ep.amqp_url)} answers",
                               hint="listing needs the management plugin (rabbitmq-plugins enable "
                                    "rabbitmq_management); peek, publish, purge, dlq QUEUE and redrive "
                                    "work over AMQP") from None
        with reaching(MGMT, target, httpx.TransportError):
            raise
    if resp.status_code == 401:
        raise SpotctlError("the RabbitMQ management API rejected the credentials",
                           hint="put user:password in RABBITMQ_MGMT_URL or --mgmt-url")
    if resp.status_code == 404:
        raise SpotctlError(f"not found on the management API: {path}")
    if resp.status_code >= 400:
        raise SpotctlError(f"management API answered {resp.status_code} for {path}")
    return resp.json()


@contextmanager
def channel(url: str | None) -> Iterator[BlockingChannel]:
    """An AMQP channel; broker refusals (no such queue/exchange) become one line, not a traceback."""
    import pika
    import pika.exceptions as pe

    from spotctl.endpoints import resolve
    from spotctl.errors import SpotctlError
    from spotctl.inspect.reach import reaching, require

    target = require(AMQP, resolve({AMQP: url}).amqp_url)
    params = pika.URLParameters(target)
    params.connection_attempts, params.socket_timeout, params.blocked_connection_timeout = 1, 3, 10
    with reaching(AMQP, target, pe.AMQPConnectionError, OSError):
        conn = pika.BlockingConnection(params)
    try:
        yield conn.channel()
    except pe.ChannelClosedByBroker as exc:
        raise SpotctlError(f"rabbitmq refused: {exc.reply_text}") from None
    except pe.AMQPConnectionError as exc:
        raise SpotctlError(f"lost the connection to rabbitmq: {exc!r}") from None
    finally:
        if conn.is_open:
            conn.close()


def _vpath(vhost: str) -> str:
    return quote(vhost, safe="")


@app.command("queues")
def queues_cmd(vhost: VhostOpt = "/", mgmt_url: MgmtOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Queues with ready/unacked counts, consumers and message rates (management API)."""
    from spotctl.inspect.rabbit_view import QUEUE_COLUMNS, queue_row, queue_summary

    queues = [queue_summary(q) for q in mgmt_get(mgmt_url, f"/api/queues/{_vpath(vhost)}")]
    emit(queues, output, QUEUE_COLUMNS, [queue_row(q) for q in queues], title=f"queues in {vhost}")


@app.command("exchanges")
def exchanges_cmd(vhost: VhostOpt = "/", mgmt_url: MgmtOpt = None,
                  output: OutputOpt = OutputFormat.table) -> None:
    """Exchanges with type, durability, alternate exchange and rates (management API)."""
    from spotctl.inspect.rabbit_view import exchange_summary

    xs = [exchange_summary(x) for x in mgmt_get(mgmt_url, f"/api/exchanges/{_vpath(vhost)}")]
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
    from spotctl.inspect.rabbit_view import binding_summary

    bs = [binding_summary(b) for b in mgmt_get(mgmt_url, f"/api/bindings/{_vpath(vhost)}")]
    bs = [b for b in bs if (exchange is None or b["source"] == (exchange or "(default)"))
          and (queue is None or b["destination"] == queue)]
    emit(bs, output, ("source", "destination", "type", "routing key", "arguments"),
         [(b["source"], b["destination"], b["destination_type"], b["routing_key"], b["arguments"] or "")
          for b in bs], title="bindings")


def get_messages(ch: BlockingChannel, queue: str, n: int) -> tuple[int, list[dict[str, Any]]]:
    """Up to n messages from the head of `queue`, all put back (nack + requeue) before returning."""
    from spotctl.inspect.rabbit_view import message_view

    total = ch.queue_declare(queue, passive=True).method.message_count
    got, last_tag = [], None
    for i in range(n):
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        last_tag = method.delivery_tag
        got.append(message_view(i + 1, method.exchange, method.routing_key, method.redelivered,
                                {p: getattr(props, p) for p in PROPS}, body))
    if last_tag is not None:
        ch.basic_nack(last_tag, multiple=True, requeue=True)
    return total, got


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
def peek_cmd(queue: str, n: Annotated[int, typer.Argument(min=1, help="How many messages.")] = 5,
             url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Look at the first N messages without losing them: they are fetched and requeued.

    RabbitMQ has no true peek: requeued messages may change order and are marked redelivered, and
    a live consumer on the queue competes for them while you look.
    """
    with channel(url) as ch:
        total, msgs = get_messages(ch, queue, n)
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
    import pika.exceptions as pe

    from spotctl.errors import SpotctlError, UsageError
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
    with channel(url) as ch:
        ch.confirm_delivery()
        try:
            ch.basic_publish(exchange, routing_key, text.encode(), props, mandatory=True)
        except pe.UnroutableError:
            raise SpotctlError(f"no queue is bound to exchange {exchange or '(default)'!r} with routing key "
                               f"{routing_key!r}; the message was dropped",
                               hint="check `spotctl rabbit bindings`") from None
    result = {"exchange": exchange, "routing_key": routing_key, "bytes": len(text.encode()), "confirmed": True}
    emit(result, output, ("exchange", "routing key", "bytes", "confirmed"),
         [(exchange or "(default)", routing_key, result["bytes"], "yes")])


def purge_queue(queue: str, yes: bool, url: str | None, output: OutputFormat) -> None:
    """Show the count, confirm, purge, print how many went (shared with `spotctl purge queue`)."""
    with channel(url) as ch:
        count = ch.queue_declare(queue, passive=True).method.message_count
        confirm(f"purge {count} ready message(s) from RabbitMQ queue {queue!r}", yes)
        purged = ch.queue_purge(queue).method.message_count
    emit({"queue": queue, "purged": purged}, output, ("queue", "purged"), [(queue, purged)])


@app.command("purge")
def purge_cmd(queue: str, yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table) -> None:
    """Drop every ready message of QUEUE (shows the count and asks first; --yes to skip)."""
    purge_queue(queue, yes, url, output)


@app.command("dlq")
def dlq_cmd(
    queue: Annotated[str | None, typer.Argument(help="A queue (or its .dlq) to look into; omit to list "
                                                "all dead-letter queues.")] = None,
    n: Annotated[int, typer.Option("--limit", "-n", min=1, help="Messages to show.")] = 10,
    url: UrlOpt = None, mgmt_url: MgmtOpt = None, vhost: VhostOpt = "/", output: OutputOpt = OutputFormat.table,
) -> None:
    """Dead letters: every <queue>.dlq with its count, or one DLQ's messages with why they died."""
    from spotctl.inspect.rabbit_view import DLQ_SUFFIX, dlq_name, queue_summary

    if queue is None:
        dlqs = [queue_summary(q) for q in mgmt_get(mgmt_url, f"/api/queues/{_vpath(vhost)}")
                if q["name"].endswith(DLQ_SUFFIX)]
        rows = [{"dlq": q["name"], "queue": q["name"][: -len(DLQ_SUFFIX)], "messages": q["ready"] + q["unacked"]}
                for q in dlqs]
        emit(rows, output, ("dead-letter queue", "for queue", "messages"),
             [(r["dlq"], r["queue"], r["messages"]) for r in rows], title="dead-letter queues")
        return
    with channel(url) as ch:
        total, msgs = get_messages(ch, dlq_name(queue), n)
    _show_messages(dlq_name(queue), total, msgs, output)


@app.command("redrive")
def redrive_cmd(
    queue: Annotated[str, typer.Argument(help="The queue whose <queue>.dlq to re-drive (or the .dlq).")],
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Move at most N.")] = None,
    yes: YesOpt = False, url: UrlOpt = None, output: OutputOpt = OutputFormat.table,
) -> None:
    """Move dead letters back to the queue they died in (publisher-confirmed, then acked: none lost)."""
    import pika.exceptions as pe

    from spotctl.errors import SpotctlError
    from spotctl.inspect.rabbit_view import dlq_name, origin_queue

    src = dlq_name(queue)
    moved: Counter[str] = Counter()
    with channel(url) as ch:
        count = ch.queue_declare(src, passive=True).method.message_count
        todo = count if limit is None else min(limit, count)
        if todo == 0:
            raise SpotctlError(f"{src} is empty: nothing to re-drive")
        confirm(f"move {todo} message(s) from {src} back to their queue", yes)
        ch.confirm_delivery()
        for _ in range(todo):
            method, props, body = ch.basic_get(src, auto_ack=False)
            if method is None:
                break
            dest = origin_queue(src, props.headers)
            try:
                ch.basic_publish("", dest, body, props, mandatory=True)
            except pe.UnroutableError:
                ch.basic_nack(method.delivery_tag, requeue=True)
                raise SpotctlError(f"queue {dest!r} does not exist; the message stays in {src}") from None
            ch.basic_ack(method.delivery_tag)
            moved[dest] += 1
    result = {"dlq": src, "moved": sum(moved.values()), "to": dict(moved)}
    emit(result, output, ("from", "to", "moved"), [(src, dest, k) for dest, k in moved.items()])
