"""/analytics/ws/metrics: `metric_update` frames as they happen (viewer role).

Frames: `{"type": "metric_update", "data": {"tenant", "window", "start", "end", "final", "metrics"}}`
— the open minute of each tenant every second or two, each closed window, each ingested metric.
`?tenant=NAME` keeps one tenant's. A text `ping` is answered `pong` (the seed's 30 s keep-alive).
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from spotctl_sandbox.analytics.api.auth import websocket_principal
from spotctl_sandbox.analytics.api.errors import ApiError

router = APIRouter(tags=["live"])


@router.websocket("/analytics/ws/metrics")
async def metrics_stream(ws: WebSocket, tenant: str | None = None) -> None:
    try:
        await websocket_principal(ws)
    except ApiError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4403 if exc.status == 403 else 1013,
                       reason=exc.detail[:120])
        return
    await ws.accept()
    bus = ws.app.state.engine.bus

    async def relay() -> None:
        async for raw in bus.updates():
            if tenant is not None and orjson.loads(raw).get("data", {}).get("tenant") != tenant:
                continue
            await ws.send_text(raw.decode() if isinstance(raw, bytes) else raw)

    sender = asyncio.create_task(relay())
    try:
        while True:
            text = await ws.receive_text()
            if text.strip() == "ping":
                await ws.send_text("pong")
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
