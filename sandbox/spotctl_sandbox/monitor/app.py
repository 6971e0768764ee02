"""The monitor's HTTP edge: POST /alerts (Alertmanager's webhook), GET /deliveries, /metrics, /health.

POST /alerts answers 200 once every channel has the alert and 503 while one fails, so Alertmanager
retries and the ledger sends only what is missing. It starts without any store: it exists to report
the ones that are down.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spotctl_sandbox.common import logs
from spotctl_sandbox.common.startup import configuration, serve_asgi
from spotctl_sandbox.monitor import metrics
from spotctl_sandbox.monitor.bull_depth import BullDepthReader
from spotctl_sandbox.monitor.collectors import StackCollector
from spotctl_sandbox.monitor.config import MonitorConfig
from spotctl_sandbox.monitor.deliver import Dispatcher
from spotctl_sandbox.monitor.kafka_lag import KafkaLagReader
from spotctl_sandbox.monitor.ledger import Ledger
from spotctl_sandbox.monitor.recipients import OpsDirectory
from spotctl_sandbox.monitor.webhook import WebhookError, parse, render

log = logging.getLogger("spotctl_sandbox.monitor")


def build_app(config: MonitorConfig) -> Starlette:
    import redis.asyncio as aioredis

    started = time.time()
    ledger = Ledger()
    redis = aioredis.Redis.from_url(config.settings.redis_url, decode_responses=True, socket_connect_timeout=2,
                                    socket_timeout=3)
    http = httpx.AsyncClient()
    dispatcher = Dispatcher(config, redis, http, OpsDirectory(config.settings.database_url, config.ops_users),
                            ledger)
    kafka = KafkaLagReader(config.settings.kafka_bootstrap_servers)
    collector = StackCollector(kafka, BullDepthReader(redis), config.collect_ttl_s)
    registry = CollectorRegistry()
    registry.register(collector)

    async def receive(request: Request) -> JSONResponse:
        try:
            group = parse(await request.body())
        except WebhookError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        metrics.ALERTS.labels(group.status).inc()
        message = render(group)
        deliveries = await dispatcher.deliver(message)
        failed = [d for d in deliveries if not d.done]
        log.info("monitor: %s %s -> %s", message.status, message.title,
                 ", ".join(f"{d.channel}:{d.outcome}" for d in deliveries) or "already delivered")
        return JSONResponse({"key": message.key, "deliveries": [d.as_json() for d in deliveries]},
                            status_code=503 if failed else 200)

    async def deliveries(request: Request) -> JSONResponse:
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            return JSONResponse({"error": "limit must be an integer in 1..1000"}, status_code=400)
        return JSONResponse({"deliveries": [d.as_json() for d in ledger.recent(int(raw))]})

    async def get_metrics(request: Request) -> Response:
        await collector.refresh()
        body = generate_latest(registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "monitor", "uptime_s": round(time.time() - started, 1)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()
        await redis.aclose()
        kafka.close()

    return Starlette(routes=[
        Route("/alerts", receive, methods=["POST"]),
        Route("/deliveries", deliveries),
        Route("/metrics", get_metrics),
        Route("/health", health),
    ], lifespan=lifespan)


def main() -> int:
    logs.setup("monitor", quiet=("httpx",))
    logging.getLogger("kafka").setLevel(logging.ERROR)  # a broker that is down is reported as kafka_up 0
    with configuration("monitor"):
        config = MonitorConfig.from_env()
    port = config.settings.port or 8095
    log.info("monitor: http :%d, alerts to %s and ops users %s", port, config.alert_email_to,
             ", ".join(config.ops_users) or "(by role)")
    serve_asgi(build_app(config), config.settings.bind_host, port)
    return 0
