"""The load generator's passive reader against a real WebSocket server on a real socket: it counts the
deliveries, answers the server's WebSocket ping and its protocol-level ping (Engine.IO's "2") and
reports the server's close as a drop - through the shared epoll set (waking per frame, or sweeping
every `batch_s`), and through the per-greenlet fallback used where there is no epoll."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from loadtests.passive import PassiveReader
from loadtests.wsclient import ConnectionDropped, WsConnection, pong_frame

MARKER = b'"type":"room_message"'
APP_PING = (b"2", "3")  # Engine.IO's ping and pong, as Socket.IO servers send them
DELIVERIES = 25


@dataclass
class Counts:
    messages: int = 0


def accept_upgrade(sock: Any, protocol: ServerProtocol) -> list[Any]:
    """The test server's side of the handshake: read the client's upgrade request and accept it;
    whatever else that read brought (events after the request)."""
    events: list[Any] = []
    while not events:
        protocol.receive_data(sock.recv(65536))
        events = protocol.events_received()
    protocol.send_response(protocol.accept(events[0]))
    sock.sendall(b"".join(protocol.data_to_send()))
    return events[1:]


@pytest.fixture
def server() -> Iterator[Any]:
    """Upgrade, wait for the client's join, send the deliveries, a reply, a WebSocket ping and an
    Engine.IO ping, wait for both answers, close with 1001 (going away)."""
    pongs: list[bytes] = []

    def handle(sock: Any, _address: Any) -> None:
        protocol = ServerProtocol()
        events = accept_upgrade(sock, protocol)
        while not any(getattr(e, "opcode", None) is Opcode.TEXT for e in events):  # the client's join
            protocol.receive_data(sock.recv(4096))
            events = protocol.events_received()
        delivery = b'{"id":"1-0","type":"room_message","content":{"room":"r","data":{}}}'
        for _ in range(DELIVERIES):
            protocol.send_frame(Frame(Opcode.TEXT, delivery))
        protocol.send_frame(Frame(Opcode.TEXT, b'{"type":"join_result","content":{}}'))
        protocol.send_ping(b"are-you-there")
        protocol.send_frame(Frame(Opcode.TEXT, APP_PING[0]))
        sock.sendall(b"".join(protocol.data_to_send()))
        while len(pongs) < 2:
            protocol.receive_data(sock.recv(4096))
            pongs.extend(bytes(e.data) for e in protocol.events_received() if e.opcode in (Opcode.PONG, Opcode.TEXT))
        protocol.send_close(1001, "going away")
        sock.sendall(b"".join(protocol.data_to_send()))

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    yield server, pongs
    server.stop()


@pytest.mark.parametrize(("shared", "batch_s"), [(True, 0.0), (True, 0.2), (False, 0.0)],
                         ids=["epoll", "epoll-sweeps", "greenlet-per-connection"])
def test_a_passive_connection_counts_deliveries_answers_pings_and_reports_the_close(
        server: Any, shared: bool, batch_s: float) -> None:
    srv, pongs = server
    counts = Counts()
    reader = PassiveReader(counts, batch_s=batch_s)
    if not shared:
        reader.epoll = None
    conn = WsConnection(f"ws://127.0.0.1:{srv.server_port}/ws", timeout=5)
    conn.open()
    conn.send('{"type":"join","content":{"room":"r"}}')

    with gevent.Timeout(10), pytest.raises(ConnectionDropped, match="code 1001"):
        reader.follow(conn, MARKER, APP_PING)

    assert counts.messages == DELIVERIES
    assert sorted(pongs) == [b"3", b"are-you-there"]
    assert reader.watched == {}
    conn.close()


def test_a_connection_we_close_ends_quietly(server: Any) -> None:
    srv, _ = server
    counts = Counts()
    reader = PassiveReader(counts)
    conn = WsConnection(f"ws://127.0.0.1:{srv.server_port}/ws", timeout=5)
    conn.open()
    conn.send('{"type":"join","content":{"room":"r"}}')
    conn.closing = True  # as WsConnection.close() marks it before closing the socket

    with gevent.Timeout(10):
        reader.follow(conn, MARKER, APP_PING)  # the end is ours: no ConnectionDropped

    assert counts.messages == DELIVERIES
    assert reader.watched == {}


@pytest.mark.parametrize("shared", [True, False], ids=["epoll", "greenlet-per-connection"])
def test_a_probe_gets_every_message_in_order_and_answers_both_pings(server: Any, shared: bool) -> None:
    """Probes read through a reader too: every data message goes to the probe's callback (decoded and
    timed there, so the reader counts none itself), the WebSocket ping is answered by the reader, the
    protocol's own ping by the callback, and the server's close is a drop with its code."""
    srv, pongs = server
    counts = Counts()
    reader = PassiveReader(counts)
    if not shared:
        reader.epoll = None
    conn = WsConnection(f"ws://127.0.0.1:{srv.server_port}/ws", timeout=5)
    conn.open()
    conn.send('{"type":"join","content":{"room":"r"}}')
    got: list[bytes] = []

    def on_messages(messages: list[bytes]) -> None:
        got.extend(messages)
        if APP_PING[0] in messages:
            conn.send_soon(APP_PING[1])

    with gevent.Timeout(10), pytest.raises(ConnectionDropped, match="code 1001"):
        reader.follow(conn, MARKER, APP_PING, on_messages=on_messages)

    delivery = b'{"id":"1-0","type":"room_message","content":{"room":"r","data":{}}}'
    assert got == [delivery] * DELIVERIES + [b'{"type":"join_result","content":{}}', APP_PING[0]]
    assert counts.messages == 0
    assert sorted(pongs) == [b"3", b"are-you-there"]
    assert reader.watched == {}
    conn.close()


def test_pongs_framed_here_are_masked_pongs_that_echo_the_ping() -> None:
    """The reader's pongs skip websockets' framing: a server must still read each as a masked pong
    carrying the ping's payload (an unmasked client frame is a protocol error to it)."""
    client, protocol = ClientProtocol(parse_uri("ws://127.0.0.1/ws")), ServerProtocol()
    client.send_request(client.connect())
    protocol.receive_data(b"".join(client.data_to_send()))
    protocol.send_response(protocol.accept(protocol.events_received()[0]))
    payloads = [b"", b"x", b"are-you-there", bytes(range(125))]
    frames = [pong_frame(p) for p in payloads]

    protocol.receive_data(b"".join(frames))

    events = protocol.events_received()
    assert [(e.opcode, bytes(e.data)) for e in events] == [(Opcode.PONG, p) for p in payloads]
    assert protocol.state is State.OPEN and protocol.handshake_exc is None
    assert len({f[2:6] for f in frames}) > 1  # a mask key per frame


def test_a_pong_waits_for_a_send_in_progress_and_both_arrive_whole() -> None:
    """A send larger than the socket buffers goes out in several writes; a pong asked for meanwhile
    follows it instead of landing inside it."""
    big = "x" * (16 * 2**20)
    got: list[tuple[Opcode, int]] = []

    def handle(sock: Any, _address: Any) -> None:
        protocol = ServerProtocol(max_size=None)
        accept_upgrade(sock, protocol)
        gevent.sleep(0.3)  # the client's send fills the buffers and waits
        while len(got) < 2:
            protocol.receive_data(sock.recv(2**20))
            got.extend((e.opcode, len(e.data)) for e in protocol.events_received())

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        conn = WsConnection(f"ws://127.0.0.1:{server.server_port}/ws", timeout=5)
        conn.open()
        sending = gevent.spawn(conn.send, big)
        gevent.sleep(0.1)
        assert conn._send_lock.locked()  # the big send is under way
        conn.answer_pings([b"are-you-there"])
        with gevent.Timeout(10):
            sending.get()
            while len(got) < 2:
                gevent.sleep(0.01)
        assert got[:2] == [(Opcode.TEXT, len(big)), (Opcode.PONG, len(b"are-you-there"))]
        conn.close()
    finally:
        server.stop()
