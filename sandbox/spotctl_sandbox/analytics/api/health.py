"""GET /health (always 200: ok or degraded, each back-end, the processor, the active event store)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health")
@router.get("/analytics/health", include_in_schema=False)
async def health(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = await request.app.state.engine.health()
    return result
