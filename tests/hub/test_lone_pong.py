"""A lone pong (the answer to the ping wheel's ping) skips websockets' parser: it must still count as a
sign of life, and bytes that only look like a pong — inside another frame, or while a `ping()` of ours
waits for its answer — must still go through websockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from spotctl_sandbox.hub.conn import HubConnection
from spotctl_sandbox.hub.core.keepalive import lone_pong

PONG = Frame(Opcode.PONG, b"hub").serialize(mask=True, extensions=[])


def test_only_one_whole_masked_short_pong_is_a_lone_pong() -> None:
    assert lone_pong(PONG)
    assert lone_pong(Frame(Opcode.PONG, b"").serialize(mask=True, extensions=[]))
    assert not lone_pong(Frame(Opcode.PONG, b"hub").serialize(mask=False, extensions=[]))  # a client masks
    assert not lone_pong(bytes([0x0A]) + PONG[1:])  # not final: websockets fails a fragmented control frame
    assert not lone_pong(PONG[:-1])  # cut short
    assert not lone_pong(PONG + PONG)  # more than one frame
    assert not lone_pong(Frame(Opcode.PING, b"hub").serialize(mask=True, extensions=[]))
    assert not lone_pong(bytes([0x8A, 0x80 | 126, 0, 126]) + bytes(4 + 126))  # an extended length: not a control frame
    assert not lone_pong(bytes([0x8A | 0x40]) + PONG[1:])  # an RSV bit set: websockets fails the connection


class Echo:
    def __init__(self) -> None:
        self.conns: list[HubConnection] = []

    async def handler(self, ws: ServerConnection) -> None:
        assert isinstance(ws, HubConnection)
        self.conns.append(ws)
        async for message in ws:
            await ws.send(bytes(message) if isinstance(message, bytes) else message.encode())


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Echo, Server]]:
    e = Echo()
    async with serve(e.handler, "127.0.0.1", 0, create_connection=HubConnection, ping_interval=None) as server:
        yield e, server


async def _raw_client(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = server.sockets[0].getsockname()[1]
    protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"))
    protocol.send_request(protocol.connect())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(protocol.data_to_send()))
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def _settle(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.1)  # one read per write on loopback


async def test_a_lone_pong_is_heard_and_a_pong_shaped_payload_in_two_reads_still_arrives(
        echo: tuple[Echo, Server]) -> None:
    e, server = echo
    reader, writer = await _raw_client(server)
    await asyncio.sleep(0.1)
    ws = e.conns[0]
    ws.heard = False
    await _settle(writer, PONG)
    assert ws.heard

    # A binary frame's header in one read, then a payload that is byte for byte a pong: it is data.
    await _settle(writer, bytes([0x82, 0x80 | len(PONG)]) + b"\0\0\0\0")
    await _settle(writer, PONG)
    echoed = await asyncio.wait_for(reader.readexactly(2 + len(PONG)), 5)
    assert echoed == bytes([0x82, len(PONG)]) + PONG
    writer.close()


async def test_a_pong_answering_our_own_ping_resolves_it(echo: tuple[Echo, Server]) -> None:
    e, server = echo
    reader, writer = await _raw_client(server)
    await asyncio.sleep(0.1)
    waiter = await e.conns[0].ping(b"hub")  # pending: the pong must reach websockets
    await asyncio.wait_for(reader.readexactly(2 + 3), 5)  # the ping
    await _settle(writer, PONG)
    assert await asyncio.wait_for(waiter, 5) >= 0
    writer.close()
