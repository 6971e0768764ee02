"""The I/O edge of the hub's keepalive: a connection that notes when its peer last said anything,
and the visit the ping wheel (`core.keepalive`) makes to each connection once per heartbeat interval.

Any frame from the peer counts as a sign of life, not only the pong: a busy client is alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event, State

if TYPE_CHECKING:
    from .hub import Conn

CLOSE_KEEPALIVE = 1011  # what websockets' own keepalive sends: "keepalive ping timeout"
PING = Frame(Opcode.PING, b"hub").serialize(mask=False, extensions=[])


class HubConnection(ServerConnection):
    """websockets' server connection with `heard`: set by every frame the peer sends."""

    heard = True

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        self.heard = True


def visit(conn: Conn) -> bool:
    """Ping `conn`, or close it if nothing arrived since the previous ping; False when closed here."""
    ws = conn.ws
    if conn.closing or ws.protocol.state is not State.OPEN:
        return True
    if conn.pinged and not getattr(ws, "heard", True):
        conn.drop(CLOSE_KEEPALIVE, "keepalive ping timeout")
        return False
    ws.heard = False  # type: ignore[attr-defined]
    conn.pinged = True
    conn.write(PING)
    return True
