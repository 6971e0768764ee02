"""GET /health (always 200: "ok" or "degraded" naming the dependencies that did not answer a real
round trip, each with its latency or error, and which playlist back-end is active) and GET /metrics.

Checks are cached for ~2 s (`common.health`), so a busy health endpoint does not load the stores.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.api.security import Res
from spotctl_sandbox.common.health import CHECK_TIMEOUT_S, HealthChecks, Probe
from spotctl_sandbox.playlists import Backend

router = APIRouter(tags=["health"])


async def _postgres(res: Resources) -> None:
    async with res.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
        await conn.execute("SELECT 1")


def probes(res: Resources) -> dict[str, Probe]:
    checks: dict[str, Probe] = {
        "redis": lambda: res.redis.ping(),
        "postgres": lambda: _postgres(res),
        "kafka": lambda: res.kafka.ping(CHECK_TIMEOUT_S),
        "rabbitmq": lambda: res.rabbit.ping(CHECK_TIMEOUT_S),
    }
    if res.playlists.backend is Backend.MONGODB:
        checks["mongodb"] = res.playlists.ping
    return checks


@router.get("/health")
async def health(res: Res) -> dict[str, Any]:
    if res.health is None:
        res.health = HealthChecks(probes(res))
    report = await res.health.report()
    if not res.schema_ready.is_set():
        report["status"] = "degraded"
        report["degraded"] = sorted({*report["degraded"], "schema"})
    return {"status": report["status"], "service": "api", "degraded": report["degraded"],
            "playlists_backend": res.playlists.backend.value, "schema_ready": res.schema_ready.is_set(),
            "dependencies": report["dependencies"]}


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
