"""RabbitMQ at the edge: the topology the workers own and a consumer with manual acks and a DLQ.

The consumer acks only after its handler succeeded; a malformed or poison message is rejected into
`<queue>.dlq` (via the `dlx` exchange) and consumption goes on; a message whose handler could not
reach a store is retried with backoff and then requeued, never dropped.  aio-pika's robust
connection re-opens channels and consumers when the broker comes back.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from spotctl_sandbox import contract as names
from spotctl_sandbox.common import logs
from spotctl_sandbox.contract import dlq_name
from spotctl_sandbox.events.rabbit import declare_exchanges
from spotctl_sandbox.workers import metrics
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.dlq import Decision, Disposition, MalformedMessage, Outcome, decide
from spotctl_sandbox.workers.retrying import transient_errors, until_ready
from spotctl_sandbox.workers.state import WorkerState

log = logging.getLogger(__name__)

#: a handler gets the delivery and the consumer's channel (to publish replies with confirms)
Handler = Callable[[AbstractIncomingMessage, AbstractChannel], Awaitable[None]]

#: queue -> the exchange it is bound to (fanouts: no routing key needed)
BINDINGS = {
    names.Q_RECOMMENDATION_REQUESTS: names.X_RECOMMENDATIONS_ANY,
    **{queue: names.X_NOTIFICATIONS for queue in names.NOTIFICATION_QUEUES},
}


async def declare_topology(channel: AbstractChannel) -> None:
    """Exchanges (with the API's exact arguments), the DLX, every queue and its DLQ. Idempotent."""
    exchanges = await declare_exchanges(channel)
    dlx = await channel.declare_exchange(names.X_DLX, aio_pika.ExchangeType.DIRECT, durable=True)
    for queue_name, exchange in BINDINGS.items():
        dead = await channel.declare_queue(dlq_name(queue_name), durable=True)
        await dead.bind(dlx, routing_key=dlq_name(queue_name))
        queue = await channel.declare_queue(queue_name, durable=True, arguments={
            "x-dead-letter-exchange": names.X_DLX,
            "x-dead-letter-routing-key": dlq_name(queue_name),
        })
        await queue.bind(exchanges[exchange])


async def connect(deps: Deps, workers: list[str]) -> AbstractRobustConnection:
    """One robust connection for all consumers (each gets its own channel)."""
    url = deps.config.settings.amqp_url
    # retries every 0.5-2 s: at a cold `up` RabbitMQ is the last store ready, and the workers are
    # waited for; once connected, aio-pika's robust connection reconnects on its own
    return await until_ready(deps.health, workers, "rabbitmq", lambda: aio_pika.connect_robust(
        url, client_properties={"connection_name": "spotctl-workers"}, reconnect_interval=1.0), max_wait_s=2.0)


def _correlation_of(message: AbstractIncomingMessage) -> str | None:
    """The id the publisher put in the headers, else in the JSON body (`spotctl trace`)."""
    header = (message.headers or {}).get(logs.FIELD)
    if header:
        return logs.valid(header.decode() if isinstance(header, bytes) else header)
    try:
        return logs.of(json.loads(message.body))
    except ValueError:
        return None


class RabbitConsumer:
    """One durable queue, one handler, prefetch-bounded concurrency."""

    def __init__(self, deps: Deps, name: str, queue: str, handler: Handler, *, prefetch: int = 8,
                 retry_for_s: float = 15.0) -> None:
        self.deps, self.name, self.queue_name, self.handler = deps, name, queue, handler
        self.prefetch, self.retry_for_s = prefetch, retry_for_s
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        deps.health.add(name)

    async def run(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        await declare_topology(channel)
        self._queue = await channel.get_queue(self.queue_name)
        self._tag = await self._queue.consume(functools.partial(self._on_message, channel))
        self.deps.health.set(self.name, WorkerState.RUNNING, f"queue {self.queue_name}")
        log.info("%s: consuming RabbitMQ queue %s", self.name, self.queue_name)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop deliveries, let handlers in flight finish, requeue what did not finish in time."""
        self.deps.health.set(self.name, WorkerState.STOPPING)
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception as exc:  # the channel may already be gone; unacked messages requeue anyway
                log.info("%s: cancel consumer: %s", self.name, exc)
        if self._inflight:
            _, late = await asyncio.wait(self._inflight, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.deps.health.set(self.name, WorkerState.STOPPED)

    async def _on_message(self, channel: AbstractChannel, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            with logs.bound(_correlation_of(message)):
                decision = await self._handle(message, channel)
                await self._settle(message, decision)
        except asyncio.CancelledError:
            await message.nack(requeue=True)  # shutting down mid-handler: give it back
            metrics.MESSAGES.labels(self.queue_name, Disposition.REQUEUE.value).inc()
            log.info("%s: stopped mid-handler; message returned to %s", self.name, self.queue_name)
            raise
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage, channel: AbstractChannel) -> Decision:
        retrying = AsyncRetrying(retry=retry_if_exception_type(transient_errors()),
                                 wait=wait_exponential_jitter(initial=0.2, max=3),
                                 stop=stop_after_delay(self.retry_for_s), reraise=True)
        try:
            await retrying(self.handler, message, channel)
        except MalformedMessage as exc:
            return decide(Outcome.MALFORMED, redelivered=bool(message.redelivered), detail=str(exc))
        except transient_errors() as exc:
            return decide(Outcome.DEPENDENCY_DOWN, redelivered=bool(message.redelivered), detail=repr(exc))
        except Exception as exc:
            log.exception("%s: handler crashed", self.name)
            return decide(Outcome.CRASHED, redelivered=bool(message.redelivered), detail=repr(exc))
        return decide(Outcome.HANDLED, redelivered=bool(message.redelivered))

    async def _settle(self, message: AbstractIncomingMessage, decision: Decision) -> None:
        health = self.deps.health
        metrics.MESSAGES.labels(self.queue_name, decision.disposition.value).inc()
        if decision.disposition is Disposition.ACK:
            await message.ack()
            health.count(self.name, processed=1)
            return
        log.warning("%s: message %s -> %s (%s)", self.name, message.message_id or message.delivery_tag,
                    decision.disposition.value, decision.reason)
        if decision.disposition is Disposition.DEAD_LETTER:
            await message.reject(requeue=False)
            health.count(self.name, dead_lettered=1)
        else:
            await message.nack(requeue=True)
            health.count(self.name, failed=1)
