"""The API's RabbitMQ side: publishing with confirms (the outbox relay's release notifications) and
the recommendation RPC.

One robust connection, opened on first use with a short tenacity backoff, so the API starts while
RabbitMQ is still booting and recovers by itself when it comes back (reconnecting every half
second); for a second after a failed connect, callers fail at once rather than queue behind the
next attempt. Messages are published `mandatory`: a message no queue would take is refused
instead of silently dropped, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from aio_pika.exceptions import DeliveryError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from spotctl_sandbox.api.errors import DependencyDown, describe
from spotctl_sandbox.common import logs
from spotctl_sandbox.common.jsonsafe import loads_safe
from spotctl_sandbox.events.rabbit import (
    NOTIFICATIONS_EXCHANGE,
    RECOMMENDATIONS_EXCHANGE,
    declare_exchanges,
    recommendation_routing_key,
)

WORKER = "recommendation-worker"
RETRY_INTERVAL_S = 1.0
# aio-pika's default is 5 s between reconnect attempts: after a broker restart (~8 s to boot here)
# releases waited ~15 s. Attempts are one TCP connect each, cheap enough every half second.
RECONNECT_INTERVAL_S = 0.5


class RabbitClient:
    def __init__(self, amqp_url: str, *, connect_budget_s: float = 3.0, rpc_timeout_s: float = 5.0) -> None:
        self.amqp_url = amqp_url
        self.connect_budget_s = connect_budget_s
        self.rpc_timeout_s = rpc_timeout_s
        self._conn: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
        self._reply_queue: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._lock = asyncio.Lock()
        self._failure: tuple[float, str] | None = None  # (monotonic time, reason) of the last failed connect

    def _fail_fast(self) -> None:
        if self._failure is not None and time.monotonic() - self._failure[0] < RETRY_INTERVAL_S:
            raise DependencyDown("rabbitmq", self._failure[1])

    async def _connect_once(self) -> None:
        conn = await aio_pika.connect_robust(self.amqp_url, timeout=self.connect_budget_s,
                                             reconnect_interval=RECONNECT_INTERVAL_S)
        try:
            channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
            exchanges = await declare_exchanges(channel)
            reply = await channel.declare_queue("", exclusive=True, auto_delete=True)  # server-named
            await reply.consume(self._on_reply, no_ack=True)
        except BaseException:
            await conn.close()
            raise
        self._conn, self._channel, self._exchanges, self._reply_queue = conn, channel, exchanges, reply

    async def _ready(self, budget_s: float | None = None) -> None:
        if self._conn is not None:
            return
        self._fail_fast()
        async with self._lock:
            if self._conn is not None:
                return
            self._fail_fast()
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_delay(budget_s or self.connect_budget_s),
                    wait=wait_exponential(multiplier=0.1, max=1.0),
                    retry=retry_if_exception_type((OSError, aio_pika.exceptions.AMQPException, TimeoutError)),
                    reraise=True,
                ):
                    with attempt:
                        await self._connect_once()
            except (OSError, aio_pika.exceptions.AMQPException, TimeoutError) as exc:
                reason = f"cannot connect to {_safe(self.amqp_url)}: {describe(exc)}"
                self._failure = (time.monotonic(), reason)
                raise DependencyDown("rabbitmq", reason) from exc
            self._failure = None

    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed

    async def ping(self, budget_s: float) -> None:
        """A real round trip (a passive declare the broker must answer): a robust connection that is
        reconnecting still calls itself open, so `connected()` alone would report a dead broker as ok."""
        await self._ready(budget_s)
        if not self.connected() or self._channel is None:
            raise DependencyDown("rabbitmq", "connection is closed (reconnecting)")
        try:  # on the underlying channel: aio-pika answers a passive declare of a known name from its cache
            async with asyncio.timeout(budget_s):
                underlay = await self._channel.get_underlay_channel()
                await underlay.exchange_declare(NOTIFICATIONS_EXCHANGE, passive=True)
        except (TimeoutError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
            raise DependencyDown("rabbitmq", f"no answer from the broker ({type(exc).__name__})") from exc

    async def publish(self, exchange: str, body: dict[str, Any], message_id: str, routing_key: str = "") -> None:
        """Publish a persistent JSON message and return once the broker confirmed it, within
        `connect_budget_s` (else DependencyDown); `mandatory`: a message no queue takes is refused."""
        await self._ready()
        message = aio_pika.Message(json.dumps(body).encode(), content_type="application/json",
                                   delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message_id,
                                   headers={logs.FIELD: cid} if (cid := logs.of(body)) else None)
        try:
            await asyncio.wait_for(
                self._exchanges[exchange].publish(message, routing_key=routing_key, mandatory=True),
                self.connect_budget_s)
        except DeliveryError as exc:
            raise DependencyDown("rabbitmq", f"no queue is bound to exchange '{exchange}' "
                                             "(is the workers service running?)") from exc
        except TimeoutError as exc:
            raise DependencyDown("rabbitmq", f"publish was not confirmed within {self.connect_budget_s:g} s") from exc

    async def request_recommendations(self, user_id: str) -> dict[str, Any]:
        """Direct-exchange request with reply_to + correlation_id; waits up to rpc_timeout_s."""
        await self._ready()
        assert self._reply_queue is not None
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        message = aio_pika.Message(
            json.dumps({"user_id": user_id, "ts": time.time()}).encode(), content_type="application/json",
            correlation_id=correlation_id, reply_to=self._reply_queue.name,
            expiration=self.rpc_timeout_s)  # a request nobody took in time dies instead of piling up
        try:
            try:
                await asyncio.wait_for(self._exchanges[RECOMMENDATIONS_EXCHANGE].publish(
                    message, routing_key=recommendation_routing_key(user_id), mandatory=True), self.connect_budget_s)
            except TimeoutError as exc:  # a frozen broker: the confirm never comes
                raise DependencyDown("rabbitmq", f"publish was not confirmed within {self.connect_budget_s:g} s") \
                    from exc
            return await asyncio.wait_for(future, self.rpc_timeout_s)
        except DeliveryError as exc:
            raise DependencyDown(WORKER, f"no queue is bound to exchange '{RECOMMENDATIONS_EXCHANGE}' "
                                         "or its alternate 'recommendations.any'") from exc
        except TimeoutError as exc:
            raise DependencyDown(WORKER, f"no reply within {self.rpc_timeout_s:g} s") from exc
        finally:
            self._pending.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            return  # late reply to a request that already timed out
        try:
            future.set_result(loads_safe(message.body, "reply"))
        except ValueError as exc:  # not JSON, or NaN/Infinity the API would relay to its client
            future.set_exception(DependencyDown(WORKER, f"reply is not acceptable JSON: {exc}"))

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


def _safe(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('@', 1)[1]}"
