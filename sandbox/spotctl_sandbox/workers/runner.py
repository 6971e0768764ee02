"""One asyncio process running every worker, the sinks and the HTTP endpoints.

Start-up never waits for a dependency: the HTTP server answers at once and each worker connects in
its own task with backoff.  SIGTERM stops intake first (RabbitMQ consumers cancelled, BullMQ workers
closed, the Kafka batch committed), waits for work in flight, and only then closes the sinks the
last jobs may still be delivering to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from aio_pika.abc import AbstractRobustConnection
from aiosmtpd.smtp import SMTP

from spotctl_sandbox import contract as names
from spotctl_sandbox.common.health import CHECK_TIMEOUT_S, HealthChecks, kafka_round_trip
from spotctl_sandbox.workers import daily_report, delivery, notifications, recently_played, recommendations
from spotctl_sandbox.workers.analytics import Analytics
from spotctl_sandbox.workers.bull import BullWorker
from spotctl_sandbox.workers.config import WorkerConfig
from spotctl_sandbox.workers.deps import Deps
from spotctl_sandbox.workers.rabbit import RabbitConsumer, connect
from spotctl_sandbox.workers.retrying import transient_errors, until_ready
from spotctl_sandbox.workers.sinks import MailSink, PushSink
from spotctl_sandbox.workers.state import Health, WorkerState
from spotctl_sandbox.workers.web import push_app, server, workers_app

log = logging.getLogger("spotctl_sandbox.workers")
STOP_BOUND_S = 15.0  # per consumer, at SIGTERM

SCHEMA = "schema"
REDIS_PROBE_S = 2.0


class Stoppable(Protocol):
    name: str

    async def stop(self) -> None: ...


def _bull_workers(deps: Deps, http: httpx.AsyncClient) -> list[BullWorker]:
    push, email = delivery.push_processor(deps, http), delivery.email_processor(deps)
    return [
        BullWorker(deps, "recently-played", names.Q_RECENTLY_PLAYED,
                   {names.JOB_UPDATE_RECENTLY_PLAYED: recently_played.processor(deps)}, concurrency=8),
        BullWorker(deps, "notification-jobs", names.Q_NOTIFICATIONS,
                   {names.JOB_PUSH: push, names.JOB_EMAIL: email}, concurrency=8),
        BullWorker(deps, "email", names.Q_EMAIL, {names.JOB_EMAIL: email}, concurrency=2),
        BullWorker(deps, "reports", names.Q_REPORTS, {names.JOB_DAILY_REPORT: daily_report.processor(deps)},
                   concurrency=1),
    ]


def _rabbit_consumers(deps: Deps) -> list[RabbitConsumer]:
    return [
        RabbitConsumer(deps, "recommendations", names.Q_RECOMMENDATION_REQUESTS,
                       recommendations.handler(deps), prefetch=4),
        RabbitConsumer(deps, "delivery", names.Q_DELIVERY, notifications.delivery_handler(deps)),
        RabbitConsumer(deps, "search-indexer", names.Q_SEARCH_INDEXER, notifications.search_indexer_handler(deps)),
        RabbitConsumer(deps, "cache-invalidation", names.Q_CACHE_INVALIDATION,
                       notifications.cache_invalidation_handler(deps)),
    ]


class Runner:
    """Build inside the event loop (the clients bind to it)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.http = httpx.AsyncClient()
        self.deps = deps = Deps.create(config, Health([SCHEMA]))  # the workers add themselves
        self.bull = _bull_workers(deps, self.http)
        self.rabbit = _rabbit_consumers(deps)
        self.analytics = Analytics(deps)
        self._connection: AbstractRobustConnection | None = None
        self._starting: list[asyncio.Task[None]] = []

    def _spawn(self, names_: list[str], start: Callable[[], Awaitable[Any]]) -> None:
        async def guarded() -> None:
            try:
                await start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: show it in /health, keep the other workers going
                log.exception("%s failed to start", "/".join(names_))
                for name in names_:
                    self.deps.health.set(name, WorkerState.FAILED, repr(exc))

        self._starting.append(asyncio.create_task(guarded(), name="start:" + "/".join(names_)))

    async def _schema(self) -> None:
        await until_ready(self.deps.health, SCHEMA, "postgres", self.deps.migrate)
        self.deps.health.set(SCHEMA, WorkerState.RUNNING, "schema applied")

    async def _reports(self) -> None:
        await self.bull[-1].run()
        await daily_report.schedule(self.deps)

    async def _rabbit(self) -> None:
        health, consumer_names = self.deps.health, [c.name for c in self.rabbit]
        connection = await connect(self.deps, consumer_names)

        def lost(*_: Any) -> None:
            if not self.deps.stopping.is_set():
                for name in consumer_names:
                    health.set(name, WorkerState.WAITING, "rabbitmq connection lost; reconnecting")

        def back(*_: Any) -> None:
            for name in consumer_names:
                health.set(name, WorkerState.RUNNING, "reconnected")

        connection.close_callbacks.add(lost)
        connection.reconnect_callbacks.add(back)
        self._connection = connection
        for consumer in self.rabbit:
            await consumer.run(connection)

    async def _watch_redis(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.deps.redis.ping(), 2)
                error = None
            except transient_errors() as exc:  # TimeoutError included
                error = f"{type(exc).__name__}: {exc}"
            for worker in self.bull:
                worker.observe_redis(error)
                if error is None:
                    with contextlib.suppress(*transient_errors()):
                        await asyncio.wait_for(worker.observe_backlog(), 2)
            await asyncio.sleep(REDIS_PROBE_S)

    def health_checks(self) -> HealthChecks:
        """A round trip to each store the workers use (GET /health, cached ~2 s)."""
        deps, settings = self.deps, self.config.settings

        async def postgres() -> None:
            async with deps.pg.connection(timeout=CHECK_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")

        async def rabbitmq() -> None:
            if self._connection is None or self._connection.is_closed:
                raise ConnectionError("not connected (yet)")
            channel = await self._connection.channel()  # Channel.Open: the broker must answer
            await channel.close()

        return HealthChecks({"redis": lambda: deps.redis.ping(), "postgres": postgres, "rabbitmq": rabbitmq,
                             "kafka": lambda: kafka_round_trip(settings.kafka_bootstrap_servers)})

    def start_workers(self) -> None:
        self._spawn([SCHEMA], self._schema)
        for worker in self.bull[:-1]:
            self._spawn([worker.name], worker.run)
        self._spawn(["reports"], self._reports)
        self._spawn([c.name for c in self.rabbit], self._rabbit)
        self._spawn([Analytics.name], self.analytics.run)
        self._spawn([w.name for w in self.bull], self._watch_redis)

    async def stop_workers(self) -> None:
        self.deps.stopping.set()
        for task in self._starting:
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        stoppable: list[Stoppable] = [*self.rabbit, *self.bull, self.analytics]
        # bounded: a consumer whose broker is gone (aiokafka waits out its request timeout) must not keep
        # the process from exiting; unfinished RabbitMQ messages go back to their queues on close
        results = await asyncio.gather(*(asyncio.wait_for(s.stop(), STOP_BOUND_S) for s in stoppable),
                                       return_exceptions=True)
        for item, result in zip(stoppable, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("%s: stop: %r", item.name, result)
        if self._connection is not None:
            await self._connection.close()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        deps = self.deps
        await deps.open()
        settings = self.config.settings
        mail = MailSink(self.config.sink_dir / "mail")
        push = PushSink(self.config.sink_dir / "push")
        smtp = await loop.create_server(lambda: SMTP(mail), host=settings.bind_host, port=self.config.smtp_port)
        main_http = server(workers_app(deps.health, mail, push, lambda day: daily_report.trigger(deps, day),
                                       self.health_checks()), settings.port, settings.bind_host)
        push_http = server(push_app(push), self.config.push_port, settings.bind_host)
        servers = [asyncio.create_task(main_http.serve()), asyncio.create_task(push_http.serve())]
        log.info("workers: http :%d, smtp sink :%d, push sink :%d, sinks in %s", settings.port,
                 self.config.smtp_port, self.config.push_port, self.config.sink_dir)

        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.start_workers()
        await stop.wait()

        log.info("workers: stopping (finishing work in flight)")
        await self.stop_workers()
        main_http.should_exit = push_http.should_exit = True
        await asyncio.gather(*servers, return_exceptions=True)
        smtp.close()
        await smtp.wait_closed()
        await self.http.aclose()
        await deps.close()
        log.info("workers: stopped")
