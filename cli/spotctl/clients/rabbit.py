"""RabbitMQ: the management HTTP API for listings, AMQP (pika) for everything that touches messages.

Listings need the management API (AMQP cannot enumerate); peek, publish, purge and re-drive use AMQP,
so they work against any broker, management plugin or not. `spotctl rabbit`, `spotctl purge`, the
TUI's queue table and the guide's rabbit check all come through here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from spotctl.clients.reach import reaching, redact, require, short
from spotctl.errors import SpotctlError
from spotctl.inspect.rabbit_view import binding_summary, exchange_summary, message_view, origin_queue, queue_summary

if TYPE_CHECKING:
    import httpx
    import pika
    from pika.adapters.blocking_connection import BlockingChannel

AMQP, MGMT = "AMQP_URL", "RABBITMQ_MGMT_URL"
PROPS = ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
         "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "headers")


def vhost_path(vhost: str) -> str:
    return quote(vhost, safe="")


class Management:
    """The management HTTP API; a missing plugin and a down broker are told apart (AMQP answers or not)."""

    def __init__(self, url: str, amqp_url: str = "", timeout: float = 5) -> None:
        import httpx

        self.url = require(MGMT, url)
        self.amqp_url = amqp_url
        parsed = httpx.URL(self.url)
        self.http = httpx.Client(base_url=parsed.copy_with(username=None, password=None),
                                 auth=(parsed.username or "guest", parsed.password or "guest"), timeout=timeout)

    def __enter__(self) -> Management:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def response(self, path: str) -> httpx.Response:
        import httpx

        from spotctl.endpoints import port_open

        try:
            return self.http.get(path)
        except httpx.TransportError as exc:
            if self.amqp_url and port_open(self.amqp_url, 5672):  # the broker runs, only its plugin is missing
                raise SpotctlError(f"the RabbitMQ management API is not reachable at {redact(self.url)} "
                                   f"({short(exc)}); AMQP at {redact(self.amqp_url)} answers",
                                   hint="listing needs the management plugin (rabbitmq-plugins enable "
                                        "rabbitmq_management); peek, publish, purge, dlq QUEUE and redrive "
                                        "work over AMQP") from None
            with reaching(MGMT, self.url, httpx.TransportError):
                raise

    def get(self, path: str) -> Any:
        """GET a management-API path as JSON; refusals are one line each."""
        resp = self.response(path)
        if resp.status_code == 401:
            raise SpotctlError("the RabbitMQ management API rejected the credentials",
                               hint="put user:password in RABBITMQ_MGMT_URL or --mgmt-url")
        if resp.status_code == 404:
            raise SpotctlError(f"not found on the management API: {path}")
        if resp.status_code >= 400:
            raise SpotctlError(f"management API answered {resp.status_code} for {path}")
        return resp.json()

    def queues(self, vhost: str = "/") -> list[dict[str, Any]]:
        """Queues with ready/unacked counts, consumers and rates."""
        return [queue_summary(q) for q in self.get(f"/api/queues/{vhost_path(vhost)}")]

    def queue(self, name: str, vhost: str = "/") -> dict[str, Any] | None:
        """One queue's summary, or None when it does not exist."""
        path = f"/api/queues/{vhost_path(vhost)}/{quote(name, safe='')}"
        if self.response(path).status_code == 404:
            return None
        return queue_summary(self.get(path))

    def exchanges(self, vhost: str = "/") -> list[dict[str, Any]]:
        return [exchange_summary(x) for x in self.get(f"/api/exchanges/{vhost_path(vhost)}")]

    def bindings(self, vhost: str = "/") -> list[dict[str, Any]]:
        return [binding_summary(b) for b in self.get(f"/api/bindings/{vhost_path(vhost)}")]


class Amqp:
    """One AMQP channel (pika, blocking); broker refusals (no such queue/exchange) are one line each."""

    def __init__(self, url: str) -> None:
        import pika
        import pika.exceptions as pe

        self.url = require(AMQP, url)
        params = pika.URLParameters(self.url)
        params.connection_attempts, params.socket_timeout, params.blocked_connection_timeout = 1, 3, 10
        with reaching(AMQP, self.url, pe.AMQPConnectionError, OSError):
            self.connection = pika.BlockingConnection(params)
            try:
                self.channel: BlockingChannel = self.connection.channel()
            except BaseException:
                self.connection.close()
                raise

    def __enter__(self) -> Amqp:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    @contextmanager
    def calls(self) -> Iterator[BlockingChannel]:
        import pika.exceptions as pe

        try:
            yield self.channel
        except pe.ChannelClosedByBroker as exc:
            raise SpotctlError(f"rabbitmq refused: {exc.reply_text}") from None
        except pe.AMQPConnectionError as exc:
            raise SpotctlError(f"lost the connection to rabbitmq: {exc!r}") from None

    def count(self, queue: str) -> int:
        """Ready messages in `queue` (a passive declare: fails when the queue does not exist)."""
        with self.calls() as ch:
            return int(ch.queue_declare(queue, passive=True).method.message_count)

    def peek(self, queue: str, n: int) -> tuple[int, list[dict[str, Any]]]:
        """Up to n messages from the head of `queue`, all put back (nack + requeue) before returning.

        RabbitMQ has no true peek: requeued messages may change order and are marked redelivered, and
        a live consumer on the queue competes for them meanwhile.
        """
        total = self.count(queue)
        got: list[dict[str, Any]] = []
        last_tag = None
        with self.calls() as ch:
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

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties) -> None:
        """Publish with publisher confirms; a message no queue receives is an error (it was dropped)."""
        import pika.exceptions as pe

        with self.calls() as ch:
            ch.confirm_delivery()
            try:
                ch.basic_publish(exchange, routing_key, body, properties, mandatory=True)
            except pe.UnroutableError:
                raise SpotctlError(f"no queue is bound to exchange {exchange or '(default)'!r} with routing key "
                                   f"{routing_key!r}; the message was dropped",
                                   hint="check `spotctl rabbit bindings`") from None

    def purge(self, queue: str) -> int:
        """Drop every ready message of `queue`; how many went."""
        with self.calls() as ch:
            return int(ch.queue_purge(queue).method.message_count)

    def redrive(self, dlq: str, n: int) -> Counter[str]:
        """Move n dead letters back to the queue each died in: publisher-confirmed, then acked (none lost)."""
        import pika.exceptions as pe

        moved: Counter[str] = Counter()
        with self.calls() as ch:
            ch.confirm_delivery()
            for _ in range(n):
                method, props, body = ch.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                dest = origin_queue(dlq, props.headers)
                try:
                    ch.basic_publish("", dest, body, props, mandatory=True)
                except pe.UnroutableError:
                    ch.basic_nack(method.delivery_tag, requeue=True)
                    raise SpotctlError(f"queue {dest!r} does not exist; the message stays in {dlq}") from None
                ch.basic_ack(method.delivery_tag)
                moved[dest] += 1
        return moved
