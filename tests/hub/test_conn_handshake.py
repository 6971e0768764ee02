"""HubConnection on a real websockets server (in-process, loopback): what it keeps after admission."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from spotctl_sandbox.hub.conn import HubConnection


async def test_a_connection_keeps_working_after_forgetting_its_handshake() -> None:
    # websockets tells the handshake from later frames by `request is None`: forgetting the handshake
    # must empty the request (its headers and the path with the token), not drop it, or every frame
    # after admission fails (the first version of this cut did exactly that).
    seen: list[tuple[str, int, object]] = []

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, HubConnection) and ws.request is not None
        assert ws.request.headers["X-Probe"] == "yes" and "token=secret" in ws.request.path
        ws.forget_handshake()
        assert ws.request is not None
        seen.append((ws.request.path, len(ws.request.headers), ws.response))
        for _ in range(3):
            await ws.send(f"echo {await ws.recv()}")

    async with serve(handler, "127.0.0.1", 0, create_connection=HubConnection, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws?token=secret", additional_headers={"X-Probe": "yes"}) as ws:
            replies = []
            for i in range(3):
                await ws.send(f"m{i}")
                replies.append(await asyncio.wait_for(ws.recv(), 5))
    assert replies == ["echo m0", "echo m1", "echo m2"]
    assert seen == [("/ws", 0, None)]


async def test_websockets_still_logs_a_failed_handler_without_its_per_connection_adapter(
        caplog: pytest.LogCaptureFixture) -> None:
    # HubConnection swaps websockets' per-connection LoggerAdapter for the plain logger (memory).
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        raise RuntimeError("handler broke")

    caplog.set_level(logging.ERROR, logger="websockets")
    async with serve(handler, "127.0.0.1", 0, create_connection=HubConnection, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("go")
            await asyncio.wait_for(ws.wait_closed(), 5)
    failed = [r for r in caplog.records if r.getMessage() == "connection handler failed"]
    assert failed and failed[0].name == "websockets.server" and failed[0].exc_info is not None
    assert "handler broke" in str(failed[0].exc_info[1])
