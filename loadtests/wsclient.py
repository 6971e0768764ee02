"""A gevent WebSocket client: websockets' sans-I/O ClientProtocol with a gevent socket at the edge.

Locust users are greenlets, so the socket must be gevent's; the protocol (framing, masking, automatic
pong replies, close handshake) is websockets' pure state machine. Each connection dials from its own
127.0.0.x source address so 100k connections do not run out of ephemeral ports on one address.
"""

from __future__ import annotations

import contextlib
import random
import socket as pysocket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent import socket
from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

IP_BIND_ADDRESS_NO_PORT = getattr(pysocket, "IP_BIND_ADDRESS_NO_PORT", 24)
RECV_BYTES = 65536
MAX_CONTROL_PAYLOAD = 125  # RFC 6455 5.5: a ping's payload, and so its pong's, is at most this long
_masks = random.Random()  # pong mask keys: no syscall each (websockets draws every key from os.urandom)


def pong_frame(payload: bytes) -> bytes:
    """A client's masked pong echoing `payload`, built in one go.

    At 100k connections the hub's pings (one per connection every 30 s) are ~3,300 pongs/s: through
    websockets each paid a Frame object, a getrandom syscall for the mask and the protocol's buffer.
    The mask only has to keep a proxy from reading the frame as something else; on loopback to our own
    server a pseudo-random key does that as well as os.urandom.
    """
    mask = _masks.getrandbits(32).to_bytes(4, "big")
    return bytes((0x8A, 0x80 | len(payload))) + mask + apply_mask(payload, mask)


class HandshakeFailed(Exception):
    """TCP connect or the HTTP upgrade did not succeed (counted apart from drops)."""


class ConnectionDropped(Exception):
    """An open connection ended without us asking: the server or the network closed it.

    `code` is the server's WebSocket close code (1013: try again later, e.g. the hub's rate limit), None
    when the connection ended without a close frame."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class WsConnection:
    def __init__(self, url: str, *, source: str | None = None, headers: dict[str, str] | None = None,
                 timeout: float = 20.0) -> None:
        self.url = url
        self.source = source
        self.headers = headers or {}
        self.timeout = timeout
        self.protocol = ClientProtocol(parse_uri(url), max_size=2**22)
        self.sock: socket.socket | None = None
        self._send_lock = Semaphore()
        self.closing = False
        self._pending: Sequence[object] = []

    def open(self) -> None:
        """Connect and upgrade within `timeout`; raise HandshakeFailed naming the cause."""
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "wss" else 80)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            with gevent.Timeout(self.timeout, HandshakeFailed(f"timed out after {self.timeout:.0f} s")):
                if self.source:
                    if sys.platform.startswith("linux"):  # the port is picked at connect: more of them per address
                        sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                    sock.bind((self.source, 0))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect((host, port))
                request = self.protocol.connect()
                for key, value in self.headers.items():
                    request.headers[key] = value
                self.protocol.send_request(request)
                sock.sendall(b"".join(self.protocol.data_to_send()))
                while self.protocol.state is State.CONNECTING:
                    data = sock.recv(RECV_BYTES)
                    if not data:
                        raise HandshakeFailed("server closed the connection during the upgrade")
                    self.protocol.receive_data(data)
                    for event in self.protocol.events_received():
                        if isinstance(event, Response) and self.protocol.handshake_exc is not None:
                            raise HandshakeFailed(f"upgrade refused: {self.protocol.handshake_exc}")
        except OSError as exc:
            sock.close()
            raise HandshakeFailed(f"{type(exc).__name__}: {exc}") from None
        except HandshakeFailed:
            sock.close()
            raise
        self.sock = sock
        self._pending = self.protocol.events_received()

    def send(self, text: str) -> None:
        """Send one text frame; a lock keeps frames from two greenlets from interleaving."""
        if self.sock is None or self.protocol.state is not State.OPEN:
            raise ConnectionDropped("not connected")
        with self._send_lock:
            self.protocol.send_text(text.encode())
            try:
                self._send_all(b"".join(self.protocol.data_to_send()))
            except OSError as exc:
                raise ConnectionDropped(f"send failed: {exc}") from None

    def frames(self) -> Iterator[str | bytes]:
        """Yield message payloads until the connection ends; pings are answered on the way.

        Returns quietly when we closed it ourselves, raises ConnectionDropped otherwise.
        """
        assert self.sock is not None, "open() first"
        yield from self._payloads(self._pending)
        while True:
            try:
                data = self.sock.recv(RECV_BYTES)
            except OSError as exc:
                data = b""
                reason = f"{type(exc).__name__}: {exc}"
            else:
                reason = "server closed the TCP connection"
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            yield from self._payloads(self.protocol.events_received())
            self.flush()
            if self.protocol.state is State.CLOSED or not data:
                if self.closing:
                    return
                code = self.protocol.close_code
                raise ConnectionDropped(f"closed by server (code {code})" if code else reason, code)

    def pending_messages(self) -> list[bytes]:
        """Data messages that arrived with the upgrade's response (for a reader that takes over the socket)."""
        pending, self._pending = self._pending, []
        return [bytes(e.data) for e in pending if getattr(e, "opcode", None) in (Opcode.TEXT, Opcode.BINARY)]  # type: ignore[attr-defined]

    def send_soon(self, text: str) -> None:
        """Send without waiting behind another greenlet's send (the passive reader must never block)."""
        self._without_waiting(self._send_quietly, text)

    def answer_pings(self, payloads: Sequence[bytes]) -> None:
        """Pong each ping payload, without waiting behind another greenlet's send."""
        if self.sock is None or self.protocol.state is not State.OPEN:
            return  # closing or closed: no pong is owed
        if any(len(p) > MAX_CONTROL_PAYLOAD for p in payloads):  # not a valid ping; websockets decides
            for payload in payloads:
                self.protocol.send_pong(payload)
            self._without_waiting(self.flush)
            return
        self._without_waiting(self._write, b"".join(map(pong_frame, payloads)))

    def _without_waiting(self, write: Callable[..., None], *args: Any) -> None:
        """Run `write` now if no send is in progress, else in a greenlet of its own (a publisher's
        write may be blocked on a full socket buffer)."""
        if self._send_lock.locked():
            gevent.spawn(write, *args)
        else:
            write(*args)

    def _write(self, data: bytes) -> None:
        """Write bytes framed here (pongs) between whole frames of other senders."""
        if self.sock is None:
            return
        with self._send_lock:
            try:
                self._send_all(data)
            except OSError:
                pass  # the read side reports the end of the connection

    def _send_all(self, data: bytes) -> None:
        """gevent's `sendall` asks the kernel for the send buffer's size first (a getsockopt syscall per
        frame sent); a frame nearly always fits the buffer, so send, and loop only for what was left."""
        sock = self.sock
        if sock is None:
            raise OSError("the connection was closed")
        view = memoryview(data)
        while view:
            view = view[sock.send(view):]  # gevent's send waits while the buffer is full

    def _send_quietly(self, text: str) -> None:
        with contextlib.suppress(ConnectionDropped):  # the read side reports the end of the connection
            self.send(text)

    def _payloads(self, events: Sequence[object]) -> Iterator[str | bytes]:
        for event in events:
            opcode = getattr(event, "opcode", None)
            if opcode is Opcode.TEXT:
                yield bytes(event.data).decode()  # type: ignore[attr-defined]
            elif opcode is Opcode.BINARY:
                yield bytes(event.data)  # type: ignore[attr-defined]

    def flush(self) -> None:
        """Write what the protocol queued by itself (pong replies, close echo)."""
        out = self.protocol.data_to_send()
        if out and self.sock is not None:
            with self._send_lock:
                try:
                    self._send_all(b"".join(out))
                except OSError:
                    pass  # the read side reports the end of the connection

    def local_address(self) -> str:
        """The address this connection left from: which host (or 127.0.0.x) carried it."""
        try:
            return str(self.sock.getsockname()[0]) if self.sock is not None else ""
        except OSError:
            return ""

    def close(self) -> None:
        self.closing = True
        if self.sock is None:
            return
        if self.protocol.state is State.OPEN:
            self.protocol.send_close()
            self.flush()
        self.sock.close()
        self.sock = None
