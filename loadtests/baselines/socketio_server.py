"""Minimal python-socketio room broadcast server: the Python peer the hub's latency is compared with.

Same wire semantics as node-ws/server.js, in Socket.IO events: `subscribe` {room} (acked by a
`subscribed` event) and `publish` {room, data}, relayed as `message` {room, data} to every member
but the sender. One uvicorn process, websocket transport, GET /health. Env: PORT (8781), HOST.
"""

from __future__ import annotations

import os
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", transports=["websocket"],
                           ping_interval=30, ping_timeout=30)


async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Plain ASGI fallback for non-Socket.IO paths: /health answers 200, the rest 404."""
    status = 200 if scope.get("path") == "/health" else 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


app = socketio.ASGIApp(sio, other_asgi_app=health)


@sio.on("subscribe")
async def subscribe(sid: str, msg: dict[str, Any]) -> None:
    room = str(msg.get("room", ""))
    await sio.enter_room(sid, room)
    await sio.emit("subscribed", {"room": room}, to=sid)


@sio.on("publish")
async def publish(sid: str, msg: dict[str, Any]) -> None:
    room = str(msg.get("room", ""))
    await sio.emit("message", {"room": room, "data": msg.get("data")}, room=room, skip_sid=sid)


if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8781")),
                log_level="warning", ws_per_message_deflate=False, loop="uvloop", ws="websockets")
