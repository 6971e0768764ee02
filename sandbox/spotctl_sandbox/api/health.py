"""GET /health (always 200: "ok" or "degraded", each dependency with its latency or error, and
which playlist back-end is active) and GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spotctl_sandbox.api.resources import Resources
from spotctl_sandbox.api.security import Res
from spotctl_sandbox.playlists import Backend

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 1.5


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S} s"}
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"ok": False, "error": text}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _postgres(res: Resources) -> None:
    async with res.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
        await conn.execute("SELECT 1")


def probes(res: Resources) -> dict[str, Callable[[], Awaitable[Any]]]:
    checks: dict[str, Callable[[], Awaitable[Any]]] = {
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
    checks = probes(res)
    results = await asyncio.gather(*(_check(p) for p in checks.values()))
    deps = dict(zip(checks, results, strict=True))
    ok = all(d["ok"] for d in deps.values()) and res.schema_ready.is_set()
    return {"status": "ok" if ok else "degraded", "service": "api",
            "playlists_backend": res.playlists.backend.value, "schema_ready": res.schema_ready.is_set(),
            "dependencies": deps}


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
