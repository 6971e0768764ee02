"""One client connection as the hub sees it: who it is, what it follows, and how frames reach it.

Frames are written straight to the socket's transport, pre-serialized and never fragmented, so
fan-out costs one `transport.write` per connection per burst and writes cannot interleave.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, Protocol, State
from websockets.streams import StreamReader

from spotctl_sandbox.realtime.clock import now_ms
from spotctl_sandbox.realtime.topics import Topic

from .core.fanout import encode_text
from .core.keepalive import lone_pong
from .core.presence import member
from .core.ratelimit import ConnectionLimiter

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
_BETWEEN_FRAMES = StreamReader.at_eof.__code__  # where websockets' parser waits for the next frame
DROP_AFTER_S = 2.0  # a slow consumer's close handshake gets this long before the socket is aborted
NO_HEADERS = Headers()  # what every admitted connection's handshake request keeps: see forget_handshake()


class HubConnection(ServerConnection):
    """websockets' server connection with `heard`, set by every frame the peer sends, and the arrival
    time of each message not yet handled.

    Any frame counts as a sign of life, not only the pong: a busy client is alive (keepalive.py).
    Messages are stamped when they are read off the socket, so rate limits judge when a client sent,
    not when a stalled hub got round to it (connection.py). `opened_ms` is when the socket was
    accepted (websockets makes the connection then): a client's connections keep the order it opened
    them in, whichever worker authenticates first (the per-user cap closes the oldest).
    """

    heard = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.opened_ms = now_ms()
        super().__init__(*args, **kwargs)
        # monotonic read times of messages not yet handled (a list: 56 bytes empty, a deque 10 times that,
        # and it rarely holds more than a frame or two)
        self.arrivals: list[float] = []
        # websockets only appends, removes and iterates its drain waiters (asyncio/connection.py):
        # an empty list is 56 bytes where its empty deque takes 760, per connection (issue 18)
        self.drain_waiters = []  # type: ignore[assignment]
        # websockets wraps its logger per connection (an adapter, a dict, a weak proxy: ~400 B) to put the
        # connection in each record's extras, which the hub's JSON log lines never show: use the logger
        if isinstance(self.logger, logging.LoggerAdapter):
            self.protocol.logger = self.logger = self.logger.logger

    def data_received(self, data: bytes) -> None:
        """A lone pong read between frames only says the peer is alive: note it and skip websockets'
        parser, events and bookkeeping (a third of the hub's CPU for an idle connection's pong, py-spy).
        Anything else, or a pong while the parser is inside a frame or a ping of ours (`ping()`) waits
        for its answer, goes through websockets as before."""
        if lone_pong(data) and not self.pending_pings and self._between_frames():
            self.heard = True
            return
        super().data_received(data)

    def _between_frames(self) -> bool:
        """websockets' parser has consumed every byte and waits for the start of the next frame."""
        protocol = self.protocol
        if protocol.state is not State.OPEN or protocol.reader.buffer:
            return False
        gen: Any = protocol.parser  # a generator: gi_yieldfrom and gi_code are not in its static type
        while gen.gi_yieldfrom is not None:  # ServerProtocol.parse -> Protocol.parse -> at_eof
            gen = gen.gi_yieldfrom
        return gen.gi_code is _BETWEEN_FRAMES

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        self.heard = True
        if isinstance(event, Frame) and event.fin and event.opcode in _DATA:
            self.arrivals.append(time.monotonic())

    def forget_handshake(self) -> None:
        """Drop the handshake's headers, path (with the token) and response once the connection is
        admitted: nothing reads them later, and they are ~3.5 KB of every idle connection (issue 18).

        The request is emptied, not dropped: websockets tells the handshake from later frames by
        `request is None`, and its parser's frame keeps the same object for the connection's life."""
        if self.request is not None:
            self.request.path, self.request.headers = "/ws", NO_HEADERS
        self.response = None

    def arrived(self) -> float:
        """When the message just taken from the connection arrived (monotonic; now if not stamped)."""
        return self.arrivals.pop(0) if self.arrivals else time.monotonic()


@dataclass(eq=False, slots=True)
class Conn:
    id: str
    ns: str
    user_id: str
    name: str
    ws: HubConnection
    limiter: ConnectionLimiter
    connected_ms: float
    resume_from: str | None = None
    admin: bool = False  # the token holds the admin role (playlists: read and delete any)
    topics: set[Topic] = field(default_factory=set)
    closing: bool = False
    pinged: bool = False  # a keepalive ping went out: the next visit expects to have heard from the peer
    backlogged_since: float = 0.0  # monotonic time its send buffer was first seen over the soft limit
    transport: asyncio.Transport = field(init=False)  # the socket's, cached: fan-out reads it per frame
    protocol: Protocol = field(init=False)  # websockets' state machine, cached: fan-out asks its state per write

    def __post_init__(self) -> None:
        self.transport, self.protocol = self.ws.transport, self.ws.protocol

    @property
    def member(self) -> str:
        return member(self.connected_ms, self.id)

    def send(self, text: str) -> None:
        """Write without awaiting; dropped if the connection is already closing."""
        self.write(encode_text(text))

    def write(self, frame: bytes) -> bool:
        """Write one whole serialized frame; frames are never fragmented, so writes cannot interleave."""
        if self.closing or self.protocol.state is not State.OPEN:
            return False
        self.transport.write(frame)
        return True

    def close_soon(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code, reason[:120]))

    def drop(self, code: int, reason: str) -> None:
        """Close a peer that does not read: websockets drains the send buffer before its close frame,
        which never happens here, so the socket is aborted if it is still open after a short wait."""
        self.close_soon(code, reason)
        asyncio.get_running_loop().call_later(DROP_AFTER_S, self._abort)

    def _abort(self) -> None:
        if self.ws.protocol.state is not State.CLOSED:
            self.transport.abort()
